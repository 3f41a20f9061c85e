"""Run a vendor's connector into its own DuckDB file, then snapshot what changed to Parquet."""

from __future__ import annotations

import errno
import gc
import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.sources import DltSource

from lifeboat.errors import LifeboatError, StorageError, SuspectedShrink
from lifeboat.paths import DataHome
from lifeboat.vendors import Vendor
from pipelines.base import VendorContext, Window
from pipelines.coverage import earliest_change, record_history_start
from pipelines.drift import (
    QUARANTINE_TABLE,
    DatasetDrift,
    collecting,
    quarantine_rows,
    write_quarantine,
)
from pipelines.history import create_versions_views, is_history_table, keep_superseded
from pipelines.recovery import (
    dedupe_first_loads,
    finish_first_loads,
    flag_damaged,
    recover,
    sync_lock,
    tell,
)
from pipelines.registry import entry
from pipelines.settings import DATASET, DLT_STATE_TABLES, DUCKDB_CONFIG, MAX_SHRINK_SHARE
from pipelines.snapshot import write_snapshot

log = logging.getLogger("lifeboat.sync")

LOADER_FILE_FORMAT = "parquet"
# Arrow batches carry no _dlt_load_id unless asked; the snapshots need it to find the rows
# each load touched.
dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True


def warehouse_path(home: Path, vendor: str) -> Path:
    return DataHome(home).warehouse(vendor)


def snapshot_dir(home: Path, vendor: str) -> Path:
    return DataHome(home).snapshots(vendor)


def make_pipeline(vendor: str, home: Path) -> dlt.Pipeline:
    """The dlt pipeline of one vendor: its own DuckDB file, its own state under the home."""
    target = warehouse_path(home, vendor)
    target.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"lifeboat_{vendor}",
        pipelines_dir=str(DataHome(home).dlt_dir),
        destination=dlt.destinations.duckdb(
            DuckDbCredentials(str(target), global_config=DUCKDB_CONFIG)
        ),
        dataset_name=DATASET,
    )


def make_source(ctx: VendorContext) -> DltSource:
    """The vendor's dlt source for this context (no request is made yet)."""
    return entry(ctx).source(ctx)


@dataclass
class TableResult:
    rows_loaded: int
    rows_held: int
    cursor: Any = None
    snapshot: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncResult:
    """What one sync did: per table, rows loaded and held, cursor, snapshot."""

    vendor: str
    load_ids: list[str]
    seconds: float
    tables: dict[str, TableResult] = field(default_factory=dict)
    manifest: str | None = None
    # Per dataset, fields the vendor added and records set aside this run (pipelines.drift).
    drift: dict[str, DatasetDrift] = field(default_factory=dict)


def full_listings(pipeline: dlt.Pipeline) -> frozenset[str]:
    """Resources whose last extract listed everything the vendor has."""
    names = set()
    for source_state in pipeline.state.get("sources", {}).values():
        for name, resource_state in source_state.get("resources", {}).items():
            if resource_state.get("full_listing"):
                names.add(name)
    return frozenset(names)


def cursors(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The incremental cursor of each resource, as dlt keeps it in the pipeline state."""
    found: dict[str, Any] = {}
    sources = pipeline.state.get("sources", {})
    for source_state in sources.values():
        for name, resource_state in source_state.get("resources", {}).items():
            for cursor in resource_state.get("incremental", {}).values():
                value = cursor.get("last_value")
                if isinstance(value, datetime):
                    value = value.isoformat()
                found[name] = value
    return found


def table_counts(database: Path, dataset: str, live: bool = False) -> dict[str, int]:
    """Rows held per vendor table (dlt's and lifeboat's own tables excluded).

    `live` counts only records the vendor still has (not marked deleted).
    """
    with duckdb.connect(str(database), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = ? AND table_type = 'BASE TABLE' "
                "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'",
                [dataset],
            ).fetchall()
            if not is_history_table(row[0]) and row[0] != QUARANTINE_TABLE
        ]
        counts = {}
        for name in names:
            where = (
                " WHERE NOT coalesce(_deleted, false)"
                if live and _has_deleted(con, dataset, name)
                else ""
            )
            counts[name] = con.execute(
                f'SELECT count(*) FROM "{dataset}"."{name}"{where}'
            ).fetchone()[0]
        return counts


def _has_deleted(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND column_name = '_deleted'",
            [dataset, table],
        ).fetchone()[0]
    )


def incoming_files(pipeline: dlt.Pipeline) -> dict[str, list[str]]:
    """Per table, the Parquet files of the normalized packages waiting to be loaded."""
    files: dict[str, list[str]] = {}
    for load_id in pipeline.list_normalized_load_packages():
        package = pipeline.get_load_package_info(load_id)
        for job in package.jobs.get("new_jobs", []):
            if job.file_path.endswith(".parquet"):
                files.setdefault(job.job_file_info.table_name, []).append(job.file_path)
    return files


def primary_keys(pipeline: dlt.Pipeline) -> dict[str, list[str]]:
    """Each vendor table's primary key, as the connector declared it to dlt."""
    keys: dict[str, list[str]] = {}
    schema = pipeline.default_schema
    for table in schema.data_table_names():
        columns = schema.get_table_columns(table)
        keys[table] = [name for name, column in columns.items() if column.get("primary_key")]
    return keys


def after_load(
    pipeline: dlt.Pipeline, vendor: str, home: Path, load_info: LoadInfo | None, started: float
) -> SyncResult:
    """Snapshot the rows this load touched and gather the figures a person wants to see."""
    load_ids = list(load_info.loads_ids) if load_info is not None else []
    loaded: dict[str, int] = {}
    trace = pipeline.last_trace
    if trace is not None and trace.last_normalize_info is not None:
        loaded = dict(trace.last_normalize_info.row_counts)
    database = warehouse_path(home, vendor)
    if database.exists() and load_ids:
        create_versions_views(database, DATASET, primary_keys(pipeline))
    held = table_counts(database, DATASET) if database.exists() else {}
    manifest = snapshot_copy(home, vendor, load_ids, held)
    positions = cursors(pipeline)
    result = SyncResult(vendor, load_ids, time.monotonic() - started, manifest=str(manifest))
    schema = pipeline.default_schema
    for table, rows in held.items():
        part = manifest_part(manifest, table)
        columns = (
            {
                name: str(column.get("data_type", "unknown"))
                for name, column in schema.get_table_columns(table).items()
            }
            if table in schema.tables
            else {}
        )
        result.tables[table] = TableResult(
            loaded.get(table, 0), rows, positions.get(table), part, columns
        )
    return result


def snapshot_copy(
    home: Path, vendor: str, load_ids: list[str], held: dict[str, int] | None = None
) -> Path:
    """Snapshot what these loads wrote (and repair the snapshot where it is damaged)."""
    database = warehouse_path(home, vendor)
    if held is None:
        held = table_counts(database, DATASET) if database.exists() else {}
    kept = dict(held)
    if set_aside := quarantine_rows(database, DATASET):
        kept[QUARANTINE_TABLE] = set_aside  # snapshotted, so a restore brings it back too
    # dlt's own record of what the copy committed (its cursors and schema), so a copy
    # rebuilt from the snapshots continues from exactly there instead of listing again.
    kept |= dlt_state_counts(database)
    return write_snapshot(database, DATASET, snapshot_dir(home, vendor), load_ids, kept)


def dlt_state_counts(database: Path) -> dict[str, int]:
    """Rows in each of dlt's state tables the copy holds (see DLT_STATE_TABLES)."""
    if not database.exists():
        return {}
    with duckdb.connect(str(database), read_only=True, config=DUCKDB_CONFIG) as con:
        present = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [DATASET],
            ).fetchall()
        }
        return {
            name: con.execute(f'SELECT count(*) FROM "{DATASET}"."{name}"').fetchone()[0]
            for name in DLT_STATE_TABLES
            if name in present
        }


def manifest_part(manifest: Path, table: str) -> str:
    return str(manifest.parent / table)


def apply_window(source: DltSource, vendor: Vendor, window: Window) -> None:
    """Load exactly [start, end) of every resource, leaving its cursor where it is.

    dlt keeps an incremental's cursor unchanged when it has an `end_value`: a backfill of a
    past window never moves the cursor the regular runs continue from. Each dataset names
    its cursor in the vendor's registry entry.
    """
    for name, resource in source.selected_resources.items():
        dataset = vendor.dataset(name)
        cursor = dataset.cursor
        if cursor is None:
            continue  # read in full each time: nothing to bound
        start: Any = window.start
        end: Any = window.end
        if dataset.column(cursor).kind == "date":
            start, end = window.start.date(), window.end.date()
        resource.apply_hints(
            incremental=dlt.sources.incremental(
                cursor, initial_value=start, end_value=end, range_start="closed", range_end="open"
            )
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while pages are parsed into millions of dicts.

    Those dicts form no cycles, yet each allocation burst makes the collector walk every
    live object; pausing it cut extraction time by a fifth (measured on 200k charges).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def guard_full_listings(
    vendor: str,
    cursors_before: dict[str, Any],
    held: dict[str, int],
    listed: dict[str, int],
    ran: Iterable[str],
    max_share: float = MAX_SHRINK_SHARE,
    full: frozenset[str] = frozenset(),
) -> None:
    """Refuse a full listing far smaller than the copy: a lockout or partial outage.

    A resource run with no cursor lists everything the vendor has (as does one that says
    so in its state, `full_listing`, e.g. when its cursor is too old to catch up). When the
    copy already holds many more records, loading it would delete nothing, but the mismatch
    is the sign of a vendor hiding data, and a person must hear of it before the run goes on.
    Only the tables this run extracted (`ran`) are judged.
    """
    for table in ran:
        rows_held = held.get(table, 0)
        if rows_held == 0 or (cursors_before.get(table) is not None and table not in full):
            continue
        rows_listed = listed.get(table, 0)
        if rows_listed < rows_held * (1 - max_share):
            raise SuspectedShrink(
                vendor,
                f"a full listing of {table} returned {rows_listed:,} records but the copy holds "
                f"{rows_held:,}; nothing was changed",
                dataset=table,
            )


def first_loads(source: DltSource, held: dict[str, int]) -> list[str]:
    """Resources whose table the copy holds no row of yet: their first load is appended.

    Merging into an empty table only spends a sort and a second write of every row (at a
    million rows, a fifth of the sync). The first load is appended instead, and
    `dedupe_first_loads` then keeps one row per key, the newest, as the merge would have.
    """
    return [name for name in source.selected_resources if not held.get(name)]


def appending_marker(home: Path, vendor: str) -> Path:
    """Names the tables a first load appends, from just before the load until they are
    deduplicated: a run that dies in between leaves it for the next run to finish."""
    return DataHome(home).appending_marker(vendor)


def _worth_telling(found: DatasetDrift) -> bool:
    return bool(found.added or found.kept_silently or found.quarantined)


def sync(ctx: VendorContext, home: Path) -> SyncResult:
    """Copy what changed at the vendor into its DuckDB file and snapshot it (plain Python).

    One run per vendor at a time (`sync_lock`); whatever a stopped run left behind is put
    right first (`recover`). A failure is raised as the LifeboatError a person reads.
    """
    try:
        with sync_lock(home, ctx.vendor):
            try:
                result = _sync(ctx, home)
            except Exception:
                _tidy_after_failure(ctx, home)
                raise
            if ctx.window is None:
                _note_history_start(ctx, home)
            return result
    except Exception as exc:
        named = named_failure(exc, ctx.vendor, home)
        if named is None or named is exc:
            raise
        raise named from exc


def _note_history_start(ctx: VendorContext, home: Path) -> None:
    """Record the earliest day of change the copy holds: Dagster's daily partitions start
    there (pipelines.coverage), whether the copy ran under Dagster or `lifeboat sync`."""
    vendor = entry(ctx)
    # No datasets named: the source copies all of them.
    daily = tuple(name for name in ctx.datasets or vendor.daily if name in vendor.daily)
    if not daily:
        return
    try:
        found = earliest_change(home, vendor, daily)
        if found is not None:
            record_history_start(home, ctx.vendor, found)
    except (OSError, duckdb.Error) as exc:  # the copy is done; the next one records it
        log.debug("%s: the history's first day was not recorded: %s", ctx.vendor, exc)


def _tidy_after_failure(ctx: VendorContext, home: Path) -> None:
    """Leave nothing for the next run to recover from after a failure it was told of.

    The failure's own message is what a person reads; a stopped package or an unfinished
    first load is put right now, quietly. If this too fails (the disk is still full), the
    next run's `recover` does it.
    """
    try:
        pipeline = make_pipeline(ctx.vendor, home)
        if pipeline.has_pending_data:
            pipeline.drop()
        marker = appending_marker(home, ctx.vendor)
        if marker.exists():
            tables = json.loads(marker.read_text())
            finish_first_loads(warehouse_path(home, ctx.vendor), tables, table_keys(entry(ctx)))
            marker.unlink()
    except Exception as exc:  # the first failure is the one to report
        log.debug("%s: tidying after the failure failed too: %s", ctx.vendor, exc)


def named_failure(exc: BaseException, vendor: str, home: Path) -> LifeboatError | None:
    """The LifeboatError a person should read for `exc`, or None for a bug.

    dlt wraps what a step raised (PipelineStepFailed): the vendor's named failure inside
    is what happened. A disk that is full, read-only or damaged is named as such, with
    what is still safe and what to do.
    """
    for cause in _chain(exc):
        if isinstance(cause, LifeboatError):
            return cause
    for cause in _chain(exc):
        if (storage := storage_failure(cause, vendor, home)) is not None:
            return storage
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__, getattr(current, "exception", None)]


_FULL = ("no space left on device", "disk is full", "could not write all bytes")
_READ_ONLY = ("read-only file system", "permission denied", "cannot open file")
_DAMAGED = ("could not read enough bytes", "corrupt", "checksum", "not a valid duckdb database")


def storage_failure(exc: BaseException, vendor: str, home: Path) -> StorageError | None:
    """A failure of the data home's disk, in one sentence; None for anything else."""
    text = str(exc).lower()
    number = getattr(exc, "errno", None)
    where = DataHome(home).root
    if isinstance(exc, duckdb.Error) and "could not set lock" in text:
        return StorageError(
            f"{vendor}: another program has its DuckDB file open (a DuckDB shell, a notebook, "
            "a BI tool); nothing already copied was lost; close it there, or open the file "
            "read-only, and run again"
        )
    if number == errno.ENOSPC or any(sign in text for sign in _FULL):
        return StorageError(
            f"{vendor}: the disk holding {where} is full; nothing already copied was lost; "
            "free some space and run again, and the next run continues from there"
        )
    if number in (errno.EROFS, errno.EACCES, errno.EPERM) or any(s in text for s in _READ_ONLY):
        return StorageError(
            f"{vendor}: {where} cannot be written (read-only or not permitted); nothing "
            "already copied was lost; make it writable and run again"
        )
    if isinstance(exc, duckdb.Error) and any(sign in text for sign in _DAMAGED):
        flag_damaged(home, vendor, str(exc).splitlines()[0][:200])
        return StorageError(
            f"{vendor}: its DuckDB file is damaged; the next run (or `lifeboat doctor` now) "
            "sets it aside and rebuilds it from the snapshots"
        )
    return None


def table_keys(vendor: Vendor) -> dict[str, list[str]]:
    """Each dataset's primary key, as the vendor's registry entry declares it."""
    return {dataset.name: list(dataset.key) for dataset in vendor.datasets if dataset.key}


def _sync(ctx: VendorContext, home: Path) -> SyncResult:
    started = time.monotonic()
    pipeline = make_pipeline(ctx.vendor, home)
    database = warehouse_path(home, ctx.vendor)
    if repairs := recover(pipeline, home, ctx.vendor, lambda: table_keys(entry(ctx))):
        log.warning("%s", tell(ctx.vendor, repairs))
    pipeline.sync_destination()
    marker = appending_marker(home, ctx.vendor)
    before = cursors(pipeline)
    held = table_counts(database, DATASET, live=True) if database.exists() else {}
    stored = table_counts(database, DATASET) if database.exists() else {}
    source = make_source(ctx)
    if ctx.window is not None:
        apply_window(source, entry(ctx), ctx.window)
    ran = list(source.selected_resources)
    appending = first_loads(source, stored)
    for name in appending:
        resource = source.resources[name]
        columns = resource.compute_table_schema().get("columns", {})
        # An append has nothing to sort duplicates by: dedupe_first_loads does it after.
        unsorted = {
            c: {"name": c, "dedup_sort": None} for c, h in columns.items() if h.get("dedup_sort")
        }
        resource.apply_hints(write_disposition="append", columns=unsorted or None)
    with collecting() as drift, _collector_paused():
        pipeline.extract(source, loader_file_format=LOADER_FILE_FORMAT)
    pipeline.normalize()
    listed = dict(pipeline.last_trace.last_normalize_info.row_counts)
    for table, count in drift.quarantined().items():
        listed[table] = listed.get(table, 0) + count  # still listed, only set aside
    try:
        guard_full_listings(
            ctx.vendor, before, held, listed, ran, ctx.max_shrink_share, full_listings(pipeline)
        )
    except SuspectedShrink:
        pipeline.drop()  # the package, and the cursors its extract advanced
        raise
    keep_superseded(database, DATASET, incoming_files(pipeline), primary_keys(pipeline))
    if appending:
        marker.write_text(json.dumps(appending))
    load_info = pipeline.load()
    if appending:
        dedupe_first_loads(database, appending, primary_keys(pipeline))
        marker.unlink()
    if drift.misfits:
        load_ids = list(load_info.loads_ids) if load_info is not None else []
        write_quarantine(database, DATASET, drift.misfits, load_ids[-1] if load_ids else "0")
    result = after_load(pipeline, ctx.vendor, home, load_info, started)
    result.drift = {name: found for name, found in drift.finish().items() if _worth_telling(found)}
    for name, found in result.drift.items():
        if found.added:
            log.warning("%s %s: new columns %s", ctx.vendor, name, ", ".join(found.added))
        if found.quarantined:
            log.warning(
                "%s %s: %d records set aside in %s (%s did not fit)",
                ctx.vendor,
                name,
                found.quarantined,
                QUARANTINE_TABLE,
                ", ".join(found.misfit_columns),
            )
    log.info(
        "%s: %s in %.1fs",
        ctx.vendor,
        ", ".join(f"{t} +{r.rows_loaded} ({r.rows_held} held)" for t, r in result.tables.items()),
        result.seconds,
    )
    return result
