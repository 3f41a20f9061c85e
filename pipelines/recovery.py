"""Whatever a stopped run leaves behind, found and put right before the next run writes.

A sync can be killed at any point (SIGKILL, power loss, a full disk). Each step below
leaves a trace the next run can read: dlt's package between extract and load, the marker
of a first load until its duplicate check, a DuckDB file cut short (snapshot files are
checked by `pipelines.snapshot.write_snapshot` itself). `recover` reads them all,
repairs what it can from what the copy committed, and says in one sentence what it did;
`sync_lock` makes sure no second run writes the same vendor meanwhile. `lifeboat doctor`
runs the same repairs on demand.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dlt
import duckdb

from lifeboat.errors import CopyBusy, LifeboatError
from lifeboat.paths import DataHome
from pipelines.integrity import check_database
from pipelines.restore import restore_vendor
from pipelines.settings import DATASET, DUCKDB_CONFIG

log = logging.getLogger("lifeboat.sync")


@dataclass(frozen=True)
class Repair:
    """One thing a stopped run left behind, and what was done about it (a clause)."""

    text: str


@contextmanager
def sync_lock(home: Path, vendor: str) -> Iterator[None]:
    """Be the one run copying `vendor`, or stop at once saying which run is.

    An advisory lock (flock) on a file in the data home: the kernel releases it when the
    holder exits, however it exits, so a killed run never leaves a stale lock.
    """
    path = DataHome(home).sync_lock(vendor)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise CopyBusy(
            f"{vendor}: another run is copying it now{holder}; this one stopped before asking "
            "the vendor for anything, and that run's copy will be the latest"
        ) from None
    try:
        os.ftruncate(fd, 0)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.write(fd, json.dumps({"pid": os.getpid(), "started": started}).encode())
        yield
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f" (process {int(found['pid'])}, since {found['started']} UTC)"
    except (ValueError, KeyError, TypeError, OSError):
        return ""


def database_problem(path: Path) -> str | None:
    """Why the DuckDB file at `path` cannot be used as it is, or None (also when busy:
    whoever holds it is the one writing)."""
    problem = check_database(path)
    if problem is None or problem.kind == "busy":
        return None
    return f"damaged ({problem.reason})"


def flag_damaged(home: Path, vendor: str, reason: str) -> None:
    """Note that reading the vendor's DuckDB file failed: the next run rebuilds it."""
    flag = _damaged_flag(home, vendor)
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text(reason)


def _damaged_flag(home: Path, vendor: str) -> Path:
    database = DataHome(home).warehouse(vendor)
    return database.with_name(database.name + ".damaged")


def rebuild_database(home: Path, vendor: str, problem: str) -> Repair:
    """Set a damaged DuckDB file aside and rebuild it from the vendor's snapshots.

    The damaged file is kept beside the copy (evidence, and whatever a person may still
    read from it). The snapshots carry dlt's state, so the copy continues from the last
    load they hold; a rebuild that leaves a table out (its snapshot cannot be trusted)
    leaves that state out too, and the full listing that follows brings everything back.
    """
    database = DataHome(home).warehouse(vendor)
    _damaged_flag(home, vendor).unlink(missing_ok=True)
    kept = ""
    if database.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = database.with_name(f"{database.name}.damaged-{stamp}")
        os.replace(database, aside)
        wal = database.with_name(database.name + ".wal")
        if wal.exists():
            os.replace(wal, aside.with_name(aside.name + ".wal"))
        kept = f"; it was set aside as {aside.name}"
    scratch = database.parent / f".rebuild-{vendor}"
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch / database.name).unlink(missing_ok=True)
        result = restore_vendor(home, vendor, scratch, allow_partial=True)
        os.replace(result.path, database)
    except LifeboatError as exc:
        return Repair(
            f"its DuckDB file was {problem}{kept}; the snapshots could not rebuild it "
            f"({exc}), so the vendor is copied again in full"
        )
    finally:
        for leftover in scratch.glob("*"):
            leftover.unlink()
        if scratch.exists():
            scratch.rmdir()
    rows = sum(result.rows.values())
    then = (
        "the copy continues from the last load they hold"
        if result.continues
        else "the vendor is listed in full once to bring it up to date"
    )
    return Repair(
        f"its DuckDB file was {problem}{kept}, and was rebuilt from the snapshots "
        f"({rows:,} rows); {then}"
    )


def _snapshot_held(layout: DataHome, vendor: str) -> bool:
    """Whether the vendor's snapshots hold anything: a copy was made here before."""
    return any(layout.snapshots(vendor).glob("*/*.parquet"))


def committed_loads(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Load ids dlt completed: their package was loaded in full and its state committed."""
    try:
        rows = con.execute(f'SELECT load_id FROM "{DATASET}"._dlt_loads WHERE status = 0')
    except duckdb.CatalogException:
        return set()
    return {row[0] for row in rows.fetchall()}


def dedupe_first_loads(
    database: Path, tables: Iterable[str], keys: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Keep the newest row per key in each appended table; returns the rows removed.

    A full listing rarely holds a record twice, so the check (one distinct count) is all
    it costs. Run after the load, or by the next sync if the run died in between (see
    `appending_marker`).
    """
    removed: dict[str, int] = {}
    if not database.exists():
        return removed
    with duckdb.connect(str(database), config=DUCKDB_CONFIG) as con:
        present = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [DATASET],
            ).fetchall()
        }
        for table in tables:
            key = keys.get(table)
            if not key or table not in present:
                continue
            name = f'"{DATASET}"."{table}"'
            listed = ", ".join(f'"{k}"' for k in key)
            total, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT ({listed})) FROM {name}"
            ).fetchone()
            if total == distinct:
                continue
            con.execute(
                f"DELETE FROM {name} WHERE rowid IN (SELECT rowid FROM (SELECT rowid, "
                f"row_number() OVER (PARTITION BY {listed} ORDER BY _changed_at DESC NULLS "
                f"LAST, _dlt_load_id DESC) AS n FROM {name}) WHERE n > 1)"
            )
            removed[table] = total - distinct
            log.info("%s: %d rows held twice in its first load removed", table, total - distinct)
    return removed


def finish_first_loads(
    database: Path, tables: Sequence[str], keys: Mapping[str, Sequence[str]]
) -> Repair | None:
    """Finish the first loads a stopped run appended: drop what never committed, dedupe.

    A first load appends into a table that was empty, so rows of a load dlt never
    completed are rows the copy never held: removing them loses nothing, and the next
    extract (whose cursor did not move) lists them again. What did commit keeps one row
    per key, the newest, as `pipelines.runner.dedupe_first_loads` does after a load.
    """
    if not database.exists():
        return None
    removed = 0
    with duckdb.connect(str(database), config=DUCKDB_CONFIG) as con:
        committed = committed_loads(con)
        present = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = ? "
                "AND column_name = '_dlt_load_id'",
                [DATASET],
            ).fetchall()
        }
        for table in sorted(present):
            if not any(table == t or table.startswith(f"{t}__") for t in tables):
                continue
            removed += con.execute(
                f'DELETE FROM "{DATASET}"."{table}" WHERE _dlt_load_id NOT IN '
                "(SELECT unnest($committed))",
                {"committed": sorted(committed)},
            ).fetchone()[0]
    doubles = sum(dedupe_first_loads(database, tables, keys).values())
    what = ", ".join(tables)
    if removed:
        return Repair(
            f"a previous run's first load of {what} was cut short; its {removed:,} "
            "uncommitted rows were removed, to be loaded again"
        )
    return Repair(
        f"a previous run's first load of {what} had not been checked for records held twice"
        + (f"; {doubles:,} were removed" if doubles else "; none were")
    )


def recover(
    pipeline: dlt.Pipeline,
    home: Path,
    vendor: str,
    keys: Callable[[], Mapping[str, Sequence[str]]],
) -> list[Repair]:
    """Put right what a stopped run of `vendor` left; returns what was found and done.

    Call it holding `sync_lock`, before the run touches the copy. `keys` gives each
    table's primary key (the connector's declaration: a stopped first load may have left
    dlt no schema to read them from).
    """
    layout = DataHome(home)
    database = layout.warehouse(vendor)
    repairs: list[Repair] = []
    flag = _damaged_flag(home, vendor)
    problem = database_problem(database)
    if problem is None and flag.exists() and database.exists():
        problem = f"damaged (a run could not read it: {flag.read_text()[:160]})"
    if problem is None and not database.exists() and _snapshot_held(layout, vendor):
        problem = "missing"
    if problem is not None:
        repairs.append(rebuild_database(home, vendor, problem))
        # The local state describes the damaged file: drop it, and `sync_destination` takes
        # the state the rebuilt file committed (or none: then everything is listed again).
        pipeline.drop()
    elif pipeline.has_pending_data:
        # Stopped between extracting and loading. The local state may hold cursors past
        # what the copy has, so start again from the state the copy committed with its
        # last load: nothing is skipped, and merging makes nothing double.
        pipeline.drop()
        repairs.append(
            Repair(
                "a previous run stopped between extracting and loading; the copy continues "
                "from what it committed"
            )
        )
    marker = layout.appending_marker(vendor)
    if marker.exists():
        try:
            tables = json.loads(marker.read_text())
        except ValueError:
            tables = None
        readable = isinstance(tables, list) and all(isinstance(t, str) for t in tables)
        if readable and (finished := finish_first_loads(database, tables, keys())):
            repairs.append(finished)
        marker.unlink()
    return repairs


def tell(vendor: str, repairs: Sequence[Repair]) -> str:
    """The one sentence a person reads about what was found and what was done."""
    return f"{vendor}: " + "; ".join(repair.text for repair in repairs)
