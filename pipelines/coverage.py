"""Which days a copy covers: the earliest day of change each vendor's copy holds.

The daily partitions of the copies start at that day (unless `history_start` in
lifeboat.yaml says otherwise), so the range Dagster shows is the range the copy holds.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from lifeboat.config import EARLIEST_PARTITIONS_START
from lifeboat.paths import DataHome
from lifeboat.vendors import Vendor
from pipelines.settings import DATASET


def earliest_change(home: Path, vendor: Vendor, tables: tuple[str, ...]) -> date | None:
    """The earliest day any of these tables of the vendor's copy records a change, or None."""
    database = DataHome(home).warehouse(vendor.name)
    if not database.exists():
        return None
    days: list[date] = []
    with duckdb.connect(str(database), read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [DATASET],
            ).fetchall()
        }
        for table in tables:
            cursor = vendor.dataset(table).cursor
            if cursor is None or table not in present:
                continue
            row = con.execute(
                f'SELECT min("{cursor}") FROM {DATASET}."{table}"'  # names from the registry
            ).fetchone()
            if row and row[0] is not None:
                days.append(_day(row[0]))
    return max(min(days), EARLIEST_PARTITIONS_START) if days else None


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def history_starts(home: Path) -> dict[str, date]:
    """Per vendor, the earliest day of change its copy held when last recorded."""
    path = DataHome(home).history_start_file
    try:
        recorded = json.loads(path.read_text())
        return {vendor: date.fromisoformat(day) for vendor, day in recorded.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        # Missing or unreadable: the next copy records it again.
        return {}


def record_history_start(home: Path, vendor: str, day: date) -> dict[str, date]:
    """Keep the vendor's earliest day of change (an earlier one replaces it); all of them."""
    starts = history_starts(home)
    if vendor in starts and starts[vendor] <= day:
        return starts
    starts[vendor] = day
    path = DataHome(home).history_start_file
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps({v: d.isoformat() for v, d in sorted(starts.items())}))
    os.replace(scratch, path)
    return starts
