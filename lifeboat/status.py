"""What the copy holds: per vendor and dataset, rows held, when it was last copied, health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lifeboat.config import Inventory
from lifeboat.paths import DataHome
from lifeboat.settings import QUARANTINE_TABLE
from pipelines.integrity import Problem, check_copy, manifest_problem
from pipelines.registry import vendors
from pipelines.snapshot import ManifestDamaged, read_manifest


@dataclass(frozen=True)
class DatasetStatus:
    vendor: str
    dataset: str
    rows_held: int | None
    copied_at: datetime | None
    rpo_minutes: int
    title: str = ""  # the vendor's name as people know it (lifeboat.yaml may set it)
    # What is wrong with the vendor's files, a sentence each (the same for all its datasets).
    problems: tuple[str, ...] = ()
    # False when the manifest cannot be read: rows held and last copy are then unknown.
    known: bool = True

    @property
    def age_minutes(self) -> float | None:
        if self.copied_at is None:
            return None
        return (datetime.now(UTC) - self.copied_at).total_seconds() / 60


def _manifest_tables(home: Path, vendor: str) -> tuple[dict[str, Any], Problem | None]:
    """The manifest's tables, or none and the problem when it is damaged."""
    try:
        return read_manifest(DataHome(home).snapshots(vendor))["tables"], None
    except ManifestDamaged as damaged:
        return {}, manifest_problem(damaged)


def copy_status(home: Path, inventory: Inventory, check_files: bool = False) -> list[DatasetStatus]:
    """Read each vendor's snapshot manifest (written after every successful load).

    `check_files` also opens each vendor's DuckDB file read-only and checks its parts'
    sizes (`lifeboat status`). Sensors and alerts leave it off: a reader's lock, however
    brief, could make a sync starting at that moment fail to open its file.
    """
    rows = []
    for vendor in inventory.enabled_vendors():
        tables, damaged = _manifest_tables(home, vendor)
        found = check_copy(home, vendor) if check_files else [damaged] if damaged else []
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
                    tuple(problem.sentence for problem in found),
                    damaged is None,
                )
            )
    return rows


def set_aside(home: Path, inventory: Inventory) -> dict[str, int]:
    """Per vendor, records set aside in its quarantine because a field changed type."""
    found = {}
    for vendor in inventory.enabled_vendors():
        entry = _manifest_tables(home, vendor)[0].get(QUARANTINE_TABLE)
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


def _last_copy(status: DatasetStatus) -> str:
    if not status.known:
        return "unknown"
    return status.copied_at.strftime("%Y-%m-%d %H:%M:%S") if status.copied_at else "never"


def _problem_lines(rows: list[DatasetStatus]) -> list[str]:
    """Each vendor's problems once, under the table, named by the vendor's title."""
    lines: dict[str, None] = {}
    for r in rows:
        for sentence in r.problems:
            lines[f"{r.title or vendors().title(r.vendor)}: {sentence}"] = None
    return list(lines)


def format_table(rows: list[DatasetStatus]) -> str:
    header = ("vendor", "dataset", "rows held", "last copy (UTC)", "RPO")
    body = [
        (
            r.title or vendors().title(r.vendor),
            r.dataset,
            "-" if r.rows_held is None else f"{r.rows_held:,}",
            _last_copy(r),
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

    table = [fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, body)]
    problems = _problem_lines(rows)
    return "\n".join([*table, *(["", *problems] if problems else [])])
