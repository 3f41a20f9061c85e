"""Rows held over time and when each copy was made, read back from the Parquet snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from lifeboat.continuity.catalog import query
from lifeboat.paths import DataHome
from lifeboat.vendors import Vendor
from pipelines.settings import DLT_STATE_TABLES
from pipelines.snapshot import ManifestDamaged, read_manifest


@dataclass(frozen=True)
class VendorHistory:
    vendor: str
    rows: list[tuple[datetime, int]]  # rows held after each load, all datasets together
    copies: list[datetime]  # every load that wrote something, and the last copy


def _keys(vendor: Vendor, dataset: str) -> list[str]:
    """The primary key of a dataset, as its vendor declares it."""
    if dataset not in vendor.dataset_names:
        return []
    return list(vendor.dataset(dataset).key)


def _when(load_id: str) -> datetime:
    # dlt load ids are the load's start as Unix seconds.
    return datetime.fromtimestamp(float(load_id), UTC)


def _dataset_rows(
    con: duckdb.DuckDBPyConnection, directory: Path, dataset: str, keys: list[str], parts: list
) -> list[tuple[datetime, int]]:
    """Rows held after each load: a record counts from the first part that holds it.

    Records are never removed from the copy, so rows held at a load are the records first
    seen by then. A folded base part counts all its rows at the fold.
    """
    files = [(str(directory / p["file"]), p["load_id"]) for p in parts]
    files = [(f, load) for f, load in files if Path(f).exists()]
    if not files or not keys:
        return []
    key = " || '\x1f' || ".join(f"coalesce(\"{k}\"::VARCHAR, '')" for k in keys)
    values = ", ".join(f"('{f}', {float(load)})" for f, load in files)
    paths = ", ".join(f"'{f}'" for f, _ in files)
    rows = query(
        con,
        f"""
        WITH part AS (SELECT * FROM (VALUES {values}) t(file, load_at)),
        seen AS (
            SELECT {key} AS k, min(part.load_at) AS first_at
            FROM read_parquet([{paths}], filename = true, union_by_name = true) r
            JOIN part ON part.file = r.filename GROUP BY k
        )
        SELECT load_at, sum(count(*)) OVER (ORDER BY load_at)::BIGINT
        FROM seen JOIN part ON seen.first_at = part.load_at GROUP BY load_at ORDER BY load_at
        """,
    )
    return [(_when(str(at)), int(total)) for at, total in rows]


def vendor_history(home: Path, declared: Vendor) -> VendorHistory:
    """Rows held after each load, and when each copy was made, from the vendor's snapshots."""
    vendor = declared.name
    directory = DataHome(home).snapshots(vendor)
    try:
        snapshotted = read_manifest(directory).get("tables", {})
    except ManifestDamaged:
        return VendorHistory(vendor, [], [])  # `lifeboat status` and the report name it
    # dlt's state is snapshotted beside the tables, but holds no record of the business.
    tables = {t: e for t, e in snapshotted.items() if t not in DLT_STATE_TABLES}
    if not tables:
        return VendorHistory(vendor, [], [])
    copies: set[datetime] = set()
    per_dataset: dict[str, list[tuple[datetime, int]]] = {}
    with duckdb.connect() as con:
        for dataset, entry in tables.items():
            parts = entry.get("parts", [])
            copies.update(_when(p["load_id"]) for p in parts)
            if entry.get("copied_at"):
                copies.add(datetime.fromisoformat(entry["copied_at"]))
            try:
                series = _dataset_rows(con, directory, dataset, _keys(declared, dataset), parts)
            except duckdb.Error:
                series = []
            if not series and entry.get("rows") is not None and entry.get("copied_at"):
                series = [(datetime.fromisoformat(entry["copied_at"]), int(entry["rows"]))]
            per_dataset[dataset] = series
    last_copy = max(copies) if copies else None
    held_now = sum(int(e.get("rows") or 0) for e in tables.values())
    # The vendor's total at each moment is every dataset's latest count by then.
    moments = sorted({at for series in per_dataset.values() for at, _ in series})
    totals = []
    for moment in moments:
        total = 0
        for series in per_dataset.values():
            held = [rows for at, rows in series if at <= moment]
            total += held[-1] if held else 0
        totals.append((moment, total))
    # A load that changed nothing writes no part; the line still reaches the last copy.
    if last_copy is not None and (not totals or totals[-1][0] < last_copy):
        totals.append((last_copy, held_now))
    return VendorHistory(vendor, totals, _distinct(sorted(copies)))


def _distinct(times: list[datetime], within_seconds: float = 60) -> list[datetime]:
    """One time per copy: a load's start and its manifest's finish are the same copy."""
    kept: list[datetime] = []
    for when in times:
        if kept and (when - kept[-1]).total_seconds() <= within_seconds:
            kept[-1] = when
        else:
            kept.append(when)
    return kept
