"""Every version of every record the copy has held, and the copy as it was at any time.

dlt merges each load into the current table (`charges`), which holds each record's newest
version. Just before a load replaces records, their current versions are appended to
`charges_history`; so nothing the copy ever held is lost, and the cost is proportional to
what changed (a first load replaces nothing). The view `charges_versions` unites both and
gives each version the time the copy took it (`valid_from`) and the time a newer one
replaced it (`valid_to`). `as_of` reads the copy as it was at any past time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines.settings import DUCKDB_CONFIG

HISTORY_SUFFIX = "_history"
VERSIONS_SUFFIX = "_versions"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [dataset, table],
    ).fetchall()
    return dict(rows)


def keep_superseded(
    database: Path,
    dataset: str,
    incoming: Mapping[str, Sequence[str]],
    primary_keys: Mapping[str, Sequence[str]],
) -> dict[str, int]:
    """Before a load, append to history the current versions the load is about to replace.

    `incoming` maps each table to the Parquet files of the normalized load package, which
    hold exactly the rows the load will merge. A run that dies after this step and before
    its load leaves a copy of a current version in history; the versions view ignores it.
    Returns the rows kept per table.
    """
    kept: dict[str, int] = {}
    if not database.exists():
        return kept
    with duckdb.connect(str(database), config=DUCKDB_CONFIG) as con:
        for table, files in incoming.items():
            keys = list(primary_keys.get(table) or [])
            columns = _columns(con, dataset, table)
            if not files or not keys or not columns:
                continue  # a table's first load replaces nothing
            history = _ensure_history(con, dataset, table, columns)
            key_list = ", ".join(_quote(k) for k in keys)
            kept[table] = con.execute(
                f"INSERT INTO {history} BY NAME SELECT m.* FROM {dataset}.{_quote(table)} m "
                f"SEMI JOIN (SELECT DISTINCT {key_list} FROM read_parquet($files)) p "
                f"USING ({key_list})",
                {"files": list(files)},
            ).fetchone()[0]
    return kept


def _ensure_history(
    con: duckdb.DuckDBPyConnection, dataset: str, table: str, columns: Mapping[str, str]
) -> str:
    history = f"{dataset}.{_quote(table + HISTORY_SUFFIX)}"
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {history} AS SELECT * FROM {dataset}.{_quote(table)} LIMIT 0"
    )
    existing = _columns(con, dataset, table + HISTORY_SUFFIX)
    for name, kind in columns.items():
        if name not in existing:  # the vendor added a field: history grows with it
            con.execute(f"ALTER TABLE {history} ADD COLUMN {_quote(name)} {kind}")
    return history


def create_versions_views(
    database: Path, dataset: str, primary_keys: Mapping[str, Sequence[str]]
) -> None:
    """`<table>_versions` for every table: history and current, each with its validity."""
    with duckdb.connect(str(database), config=DUCKDB_CONFIG) as con:
        for table, keys in primary_keys.items():
            columns = _columns(con, dataset, table)
            if not keys or "_dlt_load_id" not in columns:
                continue
            history = _ensure_history(con, dataset, table, columns)
            partition = ", ".join(_quote(k) for k in keys)
            taken = "to_timestamp(CAST(_dlt_load_id AS DOUBLE))"
            # A version kept twice (a run died between keeping it and loading) counts once.
            versions = (
                f"SELECT * FROM (SELECT * FROM {history} UNION ALL BY NAME "
                f"SELECT * FROM {dataset}.{_quote(table)}) "
                f"QUALIFY row_number() OVER (PARTITION BY {partition}, _dlt_load_id) = 1"
            )
            con.execute(
                f"CREATE OR REPLACE VIEW {dataset}.{_quote(table + VERSIONS_SUFFIX)} AS "
                f"SELECT *, {taken} AS valid_from, "
                f"lead({taken}) OVER (PARTITION BY {partition} ORDER BY _dlt_load_id) "
                f"AS valid_to FROM ({versions})"
            )


def as_of(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    table: str,
    when: datetime,
    include_deleted: bool = False,
) -> duckdb.DuckDBPyRelation:
    """The table as the copy held it at `when`: each record's version valid at that time."""
    view = f"{dataset}.{_quote(table + VERSIONS_SUFFIX)}"
    deleted = "" if include_deleted else " AND NOT coalesce(_deleted, false)"
    return con.sql(
        f"SELECT * EXCLUDE (valid_from, valid_to) FROM {view} "
        f"WHERE valid_from <= $when AND (valid_to IS NULL OR valid_to > $when){deleted}",
        params={"when": when},
    )


def is_history_table(name: str) -> bool:
    return name.endswith(HISTORY_SUFFIX)
