"""A periodic full listing, compared with the copy: absences become soft deletes, never holes.

Incremental runs only hear of deletions the vendor reports. A reconciliation lists every
dataset in full (into a scratch DuckDB file, never into the copy), then marks the records
the copy holds but the vendor no longer lists as deleted, with the time they were seen
gone. If that would mark more than the allowed share of a dataset, the vendor is hiding
data (a lockout, a partial outage): the run fails loudly and the copy is left as it was.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import dlt
import duckdb
import orjson
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from lifeboat.errors import SuspectedShrink
from lifeboat.paths import DataHome
from pipelines.base import VendorContext
from pipelines.drift import collecting
from pipelines.history import create_versions_views, keep_superseded
from pipelines.runner import (
    DATASET,
    LOADER_FILE_FORMAT,
    make_pipeline,
    make_source,
    primary_keys,
    snapshot_dir,
    table_counts,
    warehouse_path,
)
from pipelines.settings import DUCKDB_CONFIG
from pipelines.snapshot import write_snapshot


@dataclass
class ReconcileResult:
    vendor: str
    listed: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    marked_deleted: dict[str, int] = field(default_factory=dict)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reconcile(ctx: VendorContext, home: Path) -> ReconcileResult:
    """List the vendor in full, check it against the copy, mark what vanished as deleted."""
    database = warehouse_path(home, ctx.vendor)
    result = ReconcileResult(ctx.vendor)
    if not database.exists():
        return result  # nothing copied yet: nothing can have vanished
    scratch = DataHome(home).reconcile_scratch(ctx.vendor)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        listing = scratch / "listing.duckdb"
        pipeline = dlt.pipeline(
            pipeline_name=f"lifeboat_{ctx.vendor}_reconcile",
            pipelines_dir=str(DataHome(scratch).dlt_dir),
            destination=dlt.destinations.duckdb(
                DuckDbCredentials(str(listing), global_config=DUCKDB_CONFIG)
            ),
            dataset_name=DATASET,
        )
        # A fresh pipeline has no cursors: every resource lists everything.
        source = make_source(ctx)
        ran = set(source.selected_resources)
        with collecting() as drift:
            pipeline.run(source, loader_file_format=LOADER_FILE_FORMAT)
        # The copy's own schema knows every table's key, even one the listing came back
        # without (an empty listing creates no table at all).
        copy = make_pipeline(ctx.vendor, home)
        copy.sync_destination()
        copy_keys = primary_keys(copy)
        keys = {t: k for t, k in copy_keys.items() if k and t in ran}
        result.listed = table_counts(listing, DATASET) if listing.exists() else {}
        result.held = table_counts(database, DATASET, live=True)
        # A record set aside for a value that no longer fits is still listed: not deleted.
        set_aside: dict[str, list[dict]] = {}
        for misfit in drift.misfits:
            set_aside.setdefault(misfit.dataset, []).append(misfit.key)
        missing = _missing(database, listing, keys, scratch, set_aside)
        for table, (count, _) in missing.items():
            held = result.held.get(table, 0)
            if held and count > held * ctx.max_shrink_share:
                raise SuspectedShrink(
                    ctx.vendor,
                    f"a full listing of {table} lacks {count:,} of the {held:,} records the "
                    f"copy holds; nothing was changed",
                    dataset=table,
                )
        result.marked_deleted = {table: count for table, (count, _) in missing.items()}
        if any(result.marked_deleted.values()):
            vanished = {t: [str(path)] for t, (count, path) in missing.items() if count}
            keep_superseded(database, DATASET, vanished, keys)
            load_id = f"{time.time():.6f}"
            _mark_deleted(database, missing, keys, load_id)
            create_versions_views(database, DATASET, keys)
            write_snapshot(
                database,
                DATASET,
                snapshot_dir(home, ctx.vendor),
                [load_id],
                table_counts(database, DATASET),
            )
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _missing(
    database: Path,
    listing: Path,
    keys: dict[str, list[str]],
    scratch: Path,
    set_aside: dict[str, list[dict]] | None = None,
) -> dict[str, tuple[int, Path]]:
    """Per table: how many live records of the copy the listing lacks, and their keys.

    `set_aside` holds, per table, the keys of records the listing had but could not store
    (pipelines.drift): they are listed, so not missing.
    """
    found: dict[str, tuple[int, Path]] = {}
    listed = set(table_counts(listing, DATASET)) if listing.exists() else set()
    with duckdb.connect(str(database), read_only=True, config=DUCKDB_CONFIG) as con:
        if listing.exists():
            con.execute(f"ATTACH '{listing}' AS listing (READ_ONLY)")
        for table, key in keys.items():
            columns = ", ".join(_quote(k) for k in key)
            target = scratch / f"{table}-missing.parquet"
            live = (
                f"SELECT {columns} FROM {DATASET}.{_quote(table)} "
                f"WHERE NOT coalesce(_deleted, false)"
            )
            if table in listed:
                live += f" EXCEPT SELECT {columns} FROM listing.{DATASET}.{_quote(table)}"
            aside = [k for k in (set_aside or {}).get(table, []) if all(n in k for n in key)]
            if aside:
                kept = scratch / f"{table}-set-aside.json"
                kept.write_bytes(orjson.dumps([{n: str(k[n]) for n in key} for k in aside]))
                types = dict(
                    con.execute(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = ? AND table_name = ?",
                        [DATASET, table],
                    ).fetchall()
                )
                as_text = "{" + ", ".join(f"'{k}': 'VARCHAR'" for k in key) + "}"
                typed = ", ".join(f"CAST({_quote(k)} AS {types[k]})" for k in key)
                live += (
                    f" EXCEPT SELECT {typed} FROM "
                    f"read_json('{kept}', format = 'array', columns = {as_text})"
                )
            con.execute(f"COPY ({live}) TO '{target}' (FORMAT parquet)")
            count = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()
            found[table] = (count[0][0], target)
    return found


def _mark_deleted(
    database: Path, missing: dict[str, tuple[int, Path]], keys: dict[str, list[str]], load_id: str
) -> None:
    """Mark the vanished records deleted, seen gone now, under a load id of their own."""
    with duckdb.connect(str(database), config=DUCKDB_CONFIG) as con:
        for table, (count, path) in missing.items():
            if not count:
                continue
            match = " AND ".join(f"t.{_quote(k)} = m.{_quote(k)}" for k in keys[table])
            con.execute(
                f"UPDATE {DATASET}.{_quote(table)} AS t SET _deleted = true, "
                f"_changed_at = now(), _dlt_load_id = ? "
                f"FROM read_parquet('{path}') AS m WHERE {match}",
                [load_id],
            )
