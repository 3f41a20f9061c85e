"""Run a vendor's connector into its own DuckDB file, then snapshot what changed to Parquet."""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.sources import DltSource

from pipelines.base import VendorContext
from pipelines.snapshot import write_snapshot

log = logging.getLogger("lifeboat.sync")

LOADER_FILE_FORMAT = "parquet"
# Arrow batches carry no _dlt_load_id unless asked; the snapshots need it to find the rows
# each load touched.
dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
# Tables live in each vendor file's default schema, so `SELECT * FROM charges` works in
# stripe.duckdb and `stripe.charges` works wherever the files are attached by vendor name.
DATASET = "main"
# DuckDB takes most of the machine's memory by default; a bounded limit keeps the sync's
# memory flat as data grows (DuckDB spills to disk past it).
DUCKDB_CONFIG = {"memory_limit": "128MB", "threads": 1, "preserve_insertion_order": False}


def warehouse_path(home: Path, vendor: str) -> Path:
    return home / "warehouse" / f"{vendor}.duckdb"


def snapshot_dir(home: Path, vendor: str) -> Path:
    return home / "snapshots" / vendor


def make_pipeline(vendor: str, home: Path) -> dlt.Pipeline:
    """The dlt pipeline of one vendor: its own DuckDB file, its own state under the home."""
    target = warehouse_path(home, vendor)
    target.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"lifeboat_{vendor}",
        pipelines_dir=str(home / "dlt"),
        destination=dlt.destinations.duckdb(
            DuckDbCredentials(str(target), global_config=DUCKDB_CONFIG)
        ),
        dataset_name=DATASET,
    )


def make_source(ctx: VendorContext) -> DltSource:
    """The dlt source of `pipelines.<vendor>` for this context (no request is made yet)."""
    module = importlib.import_module(f"pipelines.{ctx.vendor}")
    return module.source(ctx)


@dataclass
class TableResult:
    rows_loaded: int
    rows_held: int
    cursor: Any = None
    snapshot: str | None = None


@dataclass
class SyncResult:
    """What one sync did: per table, rows loaded and held, cursor, snapshot."""

    vendor: str
    load_ids: list[str]
    seconds: float
    tables: dict[str, TableResult] = field(default_factory=dict)
    manifest: str | None = None


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


def table_counts(database: Path, dataset: str) -> dict[str, int]:
    """Rows held per vendor table (dlt's own tables excluded)."""
    with duckdb.connect(str(database), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'",
                [dataset],
            ).fetchall()
        ]
        return {
            name: con.execute(f'SELECT count(*) FROM "{dataset}"."{name}"').fetchone()[0]
            for name in names
        }


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
    held = table_counts(database, DATASET) if database.exists() else {}
    manifest = write_snapshot(database, DATASET, snapshot_dir(home, vendor), load_ids, held)
    positions = cursors(pipeline)
    result = SyncResult(vendor, load_ids, time.monotonic() - started, manifest=str(manifest))
    for table, rows in held.items():
        part = manifest_part(manifest, table)
        result.tables[table] = TableResult(loaded.get(table, 0), rows, positions.get(table), part)
    return result


def manifest_part(manifest: Path, table: str) -> str:
    return str(manifest.parent / table)


def sync(ctx: VendorContext, home: Path) -> SyncResult:
    """Copy what changed at the vendor into its DuckDB file and snapshot it (plain Python)."""
    started = time.monotonic()
    pipeline = make_pipeline(ctx.vendor, home)
    load_info = pipeline.run(make_source(ctx), loader_file_format=LOADER_FILE_FORMAT)
    result = after_load(pipeline, ctx.vendor, home, load_info, started)
    log.info(
        "%s: %s in %.1fs",
        ctx.vendor,
        ", ".join(f"{t} +{r.rows_loaded} ({r.rows_held} held)" for t, r in result.tables.items()),
        result.seconds,
    )
    return result
