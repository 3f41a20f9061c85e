"""Every version of every record the copy has held, and the copy as it was at any time.

dlt merges each load into the current table (`charges`). After the load, the rows it wrote
are appended to `charges_history`, so earlier versions are never lost; the view
`charges_versions` gives each version the time the copy took it (`valid_from`) and the time
a newer one replaced it (`valid_to`). `as_of` reads the copy as it was at any past time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import duckdb

HISTORY_SUFFIX = "_history"
VERSIONS_SUFFIX = "_versions"
LEDGER = "_lifeboat_history_loads"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [dataset, table],
    ).fetchall()
    return dict(rows)


def record_history(
    database: Path, dataset: str, primary_keys: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Append to each table's history the rows of loads it has not recorded yet.

    Catching up on every load id not in the ledger (rather than only the latest) means a
    run killed between dlt's load and this step loses no version: the next run records it.
    Returns the rows appended per table.
    """
    appended: dict[str, int] = {}
    with duckdb.connect(str(database)) as con:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {dataset}.{LEDGER} "
            "(table_name VARCHAR, load_id VARCHAR, recorded_at TIMESTAMPTZ DEFAULT now())"
        )
        for table, keys in primary_keys.items():
            columns = _columns(con, dataset, table)
            if not columns or "_dlt_load_id" not in columns:
                continue
            main = f"{dataset}.{_quote(table)}"
            history = f"{dataset}.{_quote(table + HISTORY_SUFFIX)}"
            con.execute(f"CREATE TABLE IF NOT EXISTS {history} AS SELECT * FROM {main} LIMIT 0")
            existing = _columns(con, dataset, table + HISTORY_SUFFIX)
            for name, kind in columns.items():
                if name not in existing:  # the vendor added a field: history grows with it
                    con.execute(f"ALTER TABLE {history} ADD COLUMN {_quote(name)} {kind}")
            pending = [
                row[0]
                for row in con.execute(
                    f"SELECT DISTINCT _dlt_load_id FROM {main} EXCEPT "
                    f"SELECT load_id FROM {dataset}.{LEDGER} WHERE table_name = ?",
                    [table],
                ).fetchall()
            ]
            total = 0
            for load_id in sorted(pending):
                total += con.execute(
                    f"INSERT INTO {history} BY NAME SELECT * FROM {main} WHERE _dlt_load_id = ?",
                    [load_id],
                ).fetchone()[0]
                con.execute(
                    f"INSERT INTO {dataset}.{LEDGER} (table_name, load_id) VALUES (?, ?)",
                    [table, load_id],
                )
            appended[table] = total
            _create_versions_view(con, dataset, table, keys)
    return appended


def _create_versions_view(
    con: duckdb.DuckDBPyConnection, dataset: str, table: str, keys: Sequence[str]
) -> None:
    partition = ", ".join(_quote(k) for k in keys) or "_dlt_load_id"
    taken = "to_timestamp(CAST(_dlt_load_id AS DOUBLE))"
    con.execute(
        f"CREATE OR REPLACE VIEW {dataset}.{_quote(table + VERSIONS_SUFFIX)} AS "
        f"SELECT *, {taken} AS valid_from, "
        f"lead({taken}) OVER (PARTITION BY {partition} ORDER BY _dlt_load_id) AS valid_to "
        f"FROM {dataset}.{_quote(table + HISTORY_SUFFIX)}"
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
    return name.endswith(HISTORY_SUFFIX) or name.startswith("_lifeboat")
