"""Restore a vendor's copy from its Parquet snapshots, and the drill that proves it works.

A snapshot is a list of parts per table, in load order; a record's newest version is the one
in the latest part that holds it. Restoring replays the parts, keeps the newest version per
primary key, and checks every part's SHA-256 against the manifest first.

dlt's state tables are restored too, every row as it was, when they are whole and every
table of the snapshot and every table they know of is restored: dlt then finds in the
rebuilt file the cursors it had committed, and the next sync continues from exactly where
the snapshots end. Otherwise they are left out, and the next sync lists everything again
(slower, never wrong).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from lifeboat.errors import LifeboatError
from lifeboat.paths import DataHome
from pipelines.integrity import (
    Problem,
    check_parts,
    manifest_problem,
    missing_from_manifest,
    state_intact,
)
from pipelines.registry import vendors
from pipelines.settings import DATASET, DLT_STATE_TABLES
from pipelines.snapshot import ManifestDamaged, read_manifest

# Restoring a large table spills to disk past this, instead of growing memory.
MEMORY_LIMIT = "256MB"
# Used when a table's schema names no primary key: dlt's own row key is always unique.
ROW_KEY = "_dlt_id"
# Separates column values in the text a row checksum is taken over.
_SEP = "chr(31)"


class RestoreError(LifeboatError):
    """A snapshot cannot be restored as it is: missing, or not what the manifest says."""


@dataclass
class TableCheck:
    """One table of the drill: the live copy against the copy rebuilt from snapshots."""

    table: str
    live_rows: int | None = None
    restored_rows: int | None = None
    live_checksum: str | None = None
    restored_checksum: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class DrillReport:
    """The restore drill of one vendor: per table, and problems with the snapshot files."""

    vendor: str
    tables: dict[str, TableCheck] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.ok for t in self.tables.values())

    def summary(self) -> str:
        if self.ok:
            rows = sum(t.restored_rows or 0 for t in self.tables.values())
            return (
                f"{self.vendor}: restored {len(self.tables)} tables ({rows:,} rows) from the "
                "snapshots; counts and checksums match the live copy"
            )
        found = [*self.problems]
        found += [f"{t.table}: {p}" for t in self.tables.values() for p in t.problems]
        return f"{self.vendor}: restore drill FAILED: " + "; ".join(found)


@dataclass
class RestoreResult:
    path: Path
    rows: dict[str, int]  # per vendor table (dlt's state tables are not datasets)
    # Tables an --allow-partial restore left out, with why: said loudly, never silently.
    left_out: dict[str, str] = field(default_factory=dict)
    # Whether dlt's state came back with the tables: then the next sync continues from
    # where the snapshots end, else it lists everything once.
    continues: bool = False


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _by_table(problems: list[Problem]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.table or "", []).append(problem.text)
    return found


def verify_parts(directory: Path, manifest: dict) -> dict[str, list[str]]:
    """Per table, where its parts and the manifest disagree (read in full, SHA-256 too)."""
    return _by_table(check_parts(directory, full=True, manifest=manifest))


def _keys_from_schema(schema: dict) -> dict[str, list[str]]:
    keys = {}
    for name, table in schema.get("tables", {}).items():
        if name.startswith("_dlt"):
            continue
        columns = table.get("columns", {})
        primary = [c for c, hints in columns.items() if hints.get("primary_key")]
        # History tables (scd2) and nested tables keep several rows per record: every row
        # is its own version, and dlt's row key tells them apart.
        if table.get("x-merge-strategy") == "scd2" or table.get("parent") or not primary:
            keys[name] = [ROW_KEY]
        else:
            keys[name] = primary
    return keys


def _keys_from_registry(vendor: str) -> dict[str, list[str]]:
    """Primary keys as the vendor declares them, for when no loaded schema is at hand."""
    entry = vendors().get(vendor)
    if entry is None:
        return {}
    return {dataset.name: list(dataset.key) or [ROW_KEY] for dataset in entry.datasets}


def _live_schema(con: duckdb.DuckDBPyConnection, alias: str) -> dict:
    try:
        rows = con.execute(
            f"SELECT schema FROM {alias}.{DATASET}._dlt_version ORDER BY inserted_at DESC LIMIT 1"
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return json.loads(rows[0][0]) if rows else {}


def primary_keys(vendor: str, live_schema: dict | None = None) -> dict[str, list[str]]:
    """Per table, the columns that identify a record: the loaded schema's, else the connector's."""
    keys = _keys_from_registry(vendor)
    keys.update(_keys_from_schema(live_schema or {}))
    return keys


@contextmanager
def _scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory DuckDB that spills to a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="lifeboat-restore-") as spill:
        con = duckdb.connect(
            config={
                "memory_limit": MEMORY_LIMIT,
                "threads": 1,
                "preserve_insertion_order": False,
                "temp_directory": spill,
            }
        )
        try:
            yield con
        finally:
            con.close()


def _restore_table(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    entry: dict,
    keys: list[str],
    target: str,
) -> int:
    """Replay a table's parts into `target`, keeping each record's newest version.

    With no `keys`, every row is kept as it is: dlt's state tables, which dlt only appends
    to and which carry no `_dlt_id` in every case.
    """
    parts = entry.get("parts", [])
    if not parts:
        return 0
    files = [str(directory / part["file"]) for part in parts]
    order = ", ".join(f"({_literal(f)}, {i})" for i, f in enumerate(files))
    listing = "[" + ", ".join(_literal(f) for f in files) + "]"
    present = {
        row[0]
        for row in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({listing}, union_by_name = true)"
        ).fetchall()
    }
    usable = [k for k in keys if k in present] or ([ROW_KEY] if keys and ROW_KEY in present else [])
    newest = (
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(map(_quote, usable))} "
        "ORDER BY __lifeboat_order DESC) = 1"
        if usable
        else ""
    )
    con.execute(
        f"CREATE TABLE {target} AS "
        "SELECT * EXCLUDE (__lifeboat_file, __lifeboat_order) FROM ("
        f"  SELECT p.*, o.ord AS __lifeboat_order "
        f"  FROM read_parquet({listing}, union_by_name = true, filename = '__lifeboat_file') p "
        f"  JOIN (VALUES {order}) AS o(file, ord) ON p.__lifeboat_file = o.file"
        f") {newest}"
    )
    return con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY column_name",
        [catalog, DATASET, table],
    ).fetchall()
    return [row[0] for row in rows]


def content_checksum(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]
) -> tuple[int, str]:
    """Rows and a checksum of their content, independent of row order and storage.

    Every value is read as text, so a value that went through Parquet and back sums the
    same as the one in the warehouse; a sum (not XOR) so that duplicated rows show.
    """
    text = ", ".join(f"coalesce(CAST({_quote(c)} AS VARCHAR), chr(0))" for c in sorted(columns))
    rows = con.execute(
        f"SELECT count(*), coalesce(sum(hash(concat_ws({_SEP}, {text}))::HUGEINT), 0) "
        f"FROM {relation}"
    ).fetchall()
    count, total = rows[0]
    return int(count), f"{int(total) % (1 << 128):032x}"


def _vendor_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
        "AND table_schema = ? AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY 1",
        [catalog, DATASET],
    ).fetchall()
    return [row[0] for row in rows]


def _compare(
    con: duckdb.DuckDBPyConnection, directory: Path, entry: dict, keys: list[str], check: TableCheck
) -> None:
    """Restore one table into memory and compare its rows and content with the live copy."""
    table = check.table
    restored = _quote(f"restored_{table}")
    _restore_table(con, directory, entry, keys, restored)
    live_columns = _columns(con, "live", table)
    missing = sorted(set(live_columns) - set(_columns(con, "memory", f"restored_{table}")))
    if missing:
        check.problems.append(f"snapshot lacks columns {', '.join(missing)}")
        return
    live_rel = f"live.{DATASET}.{_quote(table)}"
    check.live_rows, check.live_checksum = content_checksum(con, live_rel, live_columns)
    check.restored_rows, check.restored_checksum = content_checksum(con, restored, live_columns)
    if check.live_rows != check.restored_rows:
        check.problems.append(
            f"the snapshot restores {check.restored_rows:,} rows, the live copy holds "
            f"{check.live_rows:,}"
        )
    elif check.live_checksum != check.restored_checksum:
        check.problems.append(
            "the restored rows differ in content from the live copy (checksum mismatch)"
        )


def _datasets(manifest: dict) -> dict[str, dict]:
    """The manifest's entries of the vendor's tables: dlt's state tables are not datasets."""
    return {t: e for t, e in manifest["tables"].items() if t not in DLT_STATE_TABLES}


def drill(home: Path, vendor: str) -> DrillReport:
    """Restore the latest snapshot into memory and compare it with the live copy."""
    report = DrillReport(vendor)
    directory = DataHome(home).snapshots(vendor)
    database = DataHome(home).warehouse(vendor)
    try:
        manifest = read_manifest(directory)
    except ManifestDamaged as damaged:
        report.problems.append(manifest_problem(damaged).sentence)
        return report
    tables = _datasets(manifest)
    if not database.exists():
        report.problems.append("there is no live copy yet")
        return report
    if not tables:
        report.problems.append("there is no snapshot yet")
    damaged = verify_parts(directory, manifest)
    with _scratch() as con:
        try:
            con.execute(f"ATTACH {_literal(str(database))} AS live (READ_ONLY)")
        except duckdb.Error as exc:
            report.problems.append(f"the live copy could not be opened ({type(exc).__name__})")
            return report
        schema = _live_schema(con, "live")
        keys = primary_keys(vendor, schema)
        live_tables = _vendor_tables(con, "live")
        # The copy is what dlt loaded; tables derived from it in the same file (history,
        # views) are rebuilt from it, so they are not part of the snapshot.
        loaded = set(_keys_from_schema(schema)) & set(live_tables) if schema else set(live_tables)
        for table in sorted(loaded | set(tables) | set(damaged)):
            check = report.tables.setdefault(table, TableCheck(table))
            if table in damaged:
                check.problems += damaged[table]
            elif table not in tables:
                check.problems.append("held in the live copy but missing from the snapshot")
            elif table not in live_tables:
                check.problems.append("in the snapshot but missing from the live copy")
            elif not tables[table]["parts"]:
                check.problems.append("the snapshot holds no rows of it")
            else:
                _compare(con, directory, tables[table], keys.get(table, [ROW_KEY]), check)
    return report


def _live_facts(home: Path, vendor: str) -> tuple[dict, list[str]]:
    """The live copy's loaded schema and tables, or nothing when it is gone, damaged or busy."""
    live = DataHome(home).warehouse(vendor)
    if not live.exists():
        return {}, []
    try:
        with _scratch() as con:
            con.execute(f"ATTACH {_literal(str(live))} AS live (READ_ONLY)")
            return _live_schema(con, "live"), _vendor_tables(con, "live")
    except duckdb.Error:
        return {}, []  # the snapshots are all there is: the connector's keys will do


def _disagreements(
    vendor: str, directory: Path, manifest: dict, live_tables: list[str]
) -> list[Problem]:
    """Where the manifest, the parts on disk and the datasets the live copy holds disagree."""
    declared = vendors().get(vendor)
    names = [dataset.name for dataset in declared.datasets] if declared else []
    return check_parts(directory, full=True, manifest=manifest) + missing_from_manifest(
        directory, manifest, names, live_tables
    )


def _refusal(vendor: str, problems: list[Problem]) -> RestoreError:
    tables = sorted(_by_table(problems))
    shown = "; ".join(problem.text for problem in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return RestoreError(
        f"{vendor}: the snapshot cannot be trusted for {', '.join(tables)}: {shown}{more}; "
        f"{problems[0].repair}, or pass --allow-partial to restore the other tables"
    )


def restore_vendor(
    home: Path, vendor: str, target_dir: Path, allow_partial: bool = False
) -> RestoreResult:
    """Rebuild `<target_dir>/<vendor>.duckdb` from the snapshots alone; never overwrite.

    Refuses when the manifest and the parts disagree; `allow_partial` restores the tables
    that agree instead and names the ones it left out.
    """
    directory = DataHome(home).snapshots(vendor)
    try:
        manifest = read_manifest(directory)
    except ManifestDamaged as damaged:
        sentence = manifest_problem(damaged).sentence
        raise RestoreError(f"{vendor}: cannot restore: {sentence}") from None
    if not _datasets(manifest):
        raise RestoreError(f"{vendor}: no snapshot in {directory}; nothing to restore")
    live_schema, live_tables = _live_facts(home, vendor)
    problems = _disagreements(vendor, directory, manifest, live_tables)
    if problems and not allow_partial:
        raise _refusal(vendor, problems)
    left_out = {table: "; ".join(texts) for table, texts in _by_table(problems).items()}
    tables = {t: e for t, e in _datasets(manifest).items() if t not in left_out}
    if not tables:
        raise RestoreError(f"{vendor}: no table of the snapshot can be trusted; nothing to restore")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{vendor}.duckdb"
    if target.exists():
        raise RestoreError(f"{target} already exists; restore into an empty directory")
    keys = primary_keys(vendor, live_schema)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    rows: dict[str, int] = {}
    with _scratch() as con:
        con.execute(f"ATTACH {_literal(str(partial))} AS restored")
        for table, entry in sorted(tables.items()):
            rows[table] = _restore_table(
                con, directory, entry, keys.get(table, [ROW_KEY]), f"restored.{_quote(table)}"
            )
        # Cursors continued past a table left out would never list its older records again.
        continues = (
            not left_out
            and state_intact(directory, manifest)
            and _restore_state(con, directory, manifest, set(rows))
        )
        con.execute("DETACH restored")
    os.replace(partial, target)
    return RestoreResult(target, rows, left_out, continues)


def _loaded_tables(schema: dict) -> set[str]:
    """The tables dlt's schema says it loaded rows into (its own aside)."""
    return {
        name
        for name, table in schema.get("tables", {}).items()
        if not name.startswith("_dlt") and table.get("x-normalizer", {}).get("seen-data")
    }


def _restore_state(
    con: duckdb.DuckDBPyConnection, directory: Path, manifest: dict, restored: set[str]
) -> bool:
    """Restore dlt's state tables, every row, unless they know of a table not restored.

    Their cursors say what the copy holds: with a table the snapshot lost (its manifest
    entry gone with the live copy, so nothing says it is missing), continuing from them
    would never list its older records again, so they are dropped and the next sync lists
    everything once. Returns whether they were kept.
    """
    for table in DLT_STATE_TABLES:
        _restore_table(con, directory, manifest["tables"][table], [], f"restored.{_quote(table)}")
    if _loaded_tables(_live_schema(con, "restored")) <= restored:
        return True
    for table in DLT_STATE_TABLES:
        con.execute(f"DROP TABLE restored.{_quote(table)}")
    return False
