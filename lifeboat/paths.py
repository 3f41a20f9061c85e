"""The layout of a data home (LIFEBOAT_HOME): where each kind of file lives, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The manifest beside each vendor's Parquet snapshots: rows and checksums per table.
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DataHome:
    """Every path lifeboat reads or writes under one data home."""

    root: Path

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    def warehouse(self, vendor: str) -> Path:
        """The vendor's own DuckDB file: one writer per file, so one file per vendor."""
        return self.warehouse_dir / f"{vendor}.duckdb"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    def snapshots(self, vendor: str) -> Path:
        """The vendor's Parquet snapshots, a folder per table, and its manifest."""
        return self.snapshots_dir / vendor

    def manifest(self, vendor: str) -> Path:
        return self.snapshots(vendor) / MANIFEST

    @property
    def dlt_dir(self) -> Path:
        """dlt's pipelines: their state and the packages between extract and load."""
        return self.root / "dlt"

    def appending_marker(self, vendor: str) -> Path:
        """Names the tables a first load appends, until they are deduplicated."""
        return self.dlt_dir / f"lifeboat_{vendor}.appending.json"

    def sync_lock(self, vendor: str) -> Path:
        """Held (flock) by the one run that copies a vendor; names that run while it does."""
        return self.dlt_dir / f"lifeboat_{vendor}.lock"

    def reconcile_scratch(self, vendor: str) -> Path:
        """Where a weekly reconciliation lists a vendor in full, apart from the copy."""
        return self.root / "reconcile" / vendor

    @property
    def alerts_dir(self) -> Path:
        return self.root / "alerts"

    @property
    def dagster_dir(self) -> Path:
        """DAGSTER_HOME: runs, event logs, schedules and sensor state."""
        return self.root / "dagster"

    @property
    def continuity_dir(self) -> Path:
        """The bad-day kit: contacts, open work, vendor status and the offline report."""
        return self.root / "continuity"

    @property
    def sandbox_dir(self) -> Path:
        """The local MySQL topology `lifeboat sandbox up` starts."""
        return self.root / "sandbox"

    @property
    def history_start_file(self) -> Path:
        """Per vendor, the earliest day of change its copy holds: where the partitions start."""
        return self.root / "history_start.json"
