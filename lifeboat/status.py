"""What the copy holds: per vendor and dataset, rows held and when it was last copied."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lifeboat.config import Inventory
from lifeboat.paths import DataHome
from lifeboat.settings import QUARANTINE_TABLE
from pipelines.registry import vendors


@dataclass(frozen=True)
class DatasetStatus:
    vendor: str
    dataset: str
    rows_held: int | None
    copied_at: datetime | None
    rpo_minutes: int
    title: str = ""  # the vendor's name as people know it (lifeboat.yaml may set it)

    @property
    def age_minutes(self) -> float | None:
        if self.copied_at is None:
            return None
        return (datetime.now(UTC) - self.copied_at).total_seconds() / 60


def copy_status(home: Path, inventory: Inventory) -> list[DatasetStatus]:
    """Read each vendor's snapshot manifest (written after every successful load)."""
    rows = []
    for vendor in inventory.enabled_vendors():
        manifest_path = DataHome(home).manifest(vendor)
        tables = (
            json.loads(manifest_path.read_text()).get("tables", {})
            if manifest_path.exists()
            else {}
        )
        for dataset in inventory.enabled_datasets(vendor):
            entry = tables.get(dataset, {})
            copied = entry.get("copied_at")
            rows.append(
                DatasetStatus(
                    vendor,
                    dataset,
                    entry.get("rows"),
                    datetime.fromisoformat(copied) if copied else None,
                    int(inventory.rpo(vendor, dataset).total_seconds() // 60),
                    inventory.registry.title(vendor),
                )
            )
    return rows


def set_aside(home: Path, inventory: Inventory) -> dict[str, int]:
    """Per vendor, records set aside in its quarantine because a field changed type."""
    found = {}
    for vendor in inventory.enabled_vendors():
        manifest_path = DataHome(home).manifest(vendor)
        if not manifest_path.exists():
            continue
        entry = json.loads(manifest_path.read_text()).get("tables", {}).get(QUARANTINE_TABLE)
        if entry and entry.get("rows"):
            found[vendor] = int(entry["rows"])
    return found


def format_set_aside(counts: dict[str, int]) -> str:
    """Lines naming each vendor's set-aside records and where to read them."""
    return "\n".join(
        f"{vendors().title(vendor)}: {rows:,} records set aside because a field changed "
        f"type; read them in {QUARANTINE_TABLE} of warehouse/{vendor}.duckdb"
        for vendor, rows in sorted(counts.items())
    )


def _duration(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def format_table(rows: list[DatasetStatus]) -> str:
    header = ("vendor", "dataset", "rows held", "last copy (UTC)", "RPO")
    body = [
        (
            r.title or vendors().title(r.vendor),
            r.dataset,
            "-" if r.rows_held is None else f"{r.rows_held:,}",
            r.copied_at.strftime("%Y-%m-%d %H:%M:%S") if r.copied_at else "never",
            _duration(r.rpo_minutes),
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    right = {2}

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(
            str(cell).rjust(widths[i]) if i in right else str(cell).ljust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()

    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, body)])
