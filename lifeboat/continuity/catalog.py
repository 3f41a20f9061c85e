"""Reading the copies: every vendor file attached read-only, and the SQL helpers the kit shares."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from lifeboat.paths import DataHome

log = logging.getLogger("lifeboat.continuity")


def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[tuple[Any, ...]]:
    """Run a statement and read all of it (DuckDB refuses new work while a result is open)."""
    return con.execute(sql, params or []).fetchall()


def output_dir(home: Path) -> Path:
    return DataHome(home).continuity_dir


def _casefold(value: str) -> str:
    return value.strip().casefold()


def prepare(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Add `norm_email(e)`: trimmed and case-folded, NULL when empty.

    Plain ASCII (nearly every address) is folded in SQL; the rare address with other
    characters goes through Python's casefold, which knows folds SQL's lower() does not
    (ß -> ss, final sigma).
    """
    # A connection prepared twice already has the function.
    with contextlib.suppress(duckdb.CatalogException):
        con.create_function("lifeboat_casefold", _casefold, ["VARCHAR"], "VARCHAR")
    query(
        con,
        "CREATE OR REPLACE TEMP MACRO norm_email(e) AS nullif(CASE "
        "WHEN regexp_full_match(e, '[ -~]*') THEN lower(trim(e)) "
        "ELSE lifeboat_casefold(e) END, '')",
    )
    return con


def open_catalog(home: Path, unreadable: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every vendor file under `home` attached read-only by name.

    A vendor whose file is locked (a copy is being written this very moment) is left out
    and named in `unreadable`: the others still make a report.
    """
    con = duckdb.connect()
    for database in sorted(DataHome(home).warehouse_dir.glob("*.duckdb")):
        try:
            query(con, f"ATTACH '{database}' AS \"{database.stem}\" (READ_ONLY)")
        except duckdb.IOException as exc:
            if "could not set lock" in str(exc).lower():
                why = "a copy is writing it now, or another program has it open"
            else:
                why = f"DuckDB says: {str(exc).splitlines()[0][:200]}"
            log.warning("%s: the copy cannot be read now (%s); left out", database.stem, why)
            if unreadable is not None:
                unreadable.append(database.stem)
    return prepare(con)


def columns(con: duckdb.DuckDBPyConnection, vendor: str, table: str) -> set[str]:
    """Columns of `vendor.table`, empty when the vendor or the table is not copied."""
    rows = query(
        con,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = 'main' AND table_name = ?",
        [vendor, table],
    )
    return {row[0] for row in rows}


def pick(present: set[str], name: str, kind: str = "VARCHAR", alias: str = "") -> str:
    """The column if the copy has it, else a typed NULL (a dataset may lack an optional one)."""
    if name not in present:
        return f"NULL::{kind}"
    return f'{alias}."{name}"' if alias else f'"{name}"'


def union(parts: Iterable[str], empty: str) -> str:
    """UNION ALL BY NAME of the parts after `empty`, a typed zero-row SELECT of every column.

    Leading with `empty` gives the result every column and its type whichever parts exist.
    """
    selects = [empty, *(part for part in parts if part)]
    return " UNION ALL BY NAME ".join(f"({part})" for part in selects)


def export(con: duckdb.DuckDBPyConnection, table: str, directory: Path, name: str) -> list[Path]:
    """Write `table` as `<name>.csv` and `<name>.parquet`, each replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, options in (("csv", "FORMAT csv, HEADER"), ("parquet", "FORMAT parquet")):
        target = directory / f"{name}.{suffix}"
        tmp = directory / f".{name}.{suffix}.tmp"
        query(con, f"COPY (SELECT * FROM {table}) TO '{tmp}' ({options})")
        os.replace(tmp, target)
        written.append(target)
    return written


def load(con: duckdb.DuckDBPyConnection, table: str, directory: Path, name: str) -> None:
    """Make an exported table available as `table` again (for the assets downstream of it)."""
    query(
        con,
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT * FROM read_parquet('{directory / (name + '.parquet')}')",
    )
