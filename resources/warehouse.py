"""Where the copies live: one DuckDB file per vendor, snapshots, and a read-only catalog."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from lifeboat.instance import release_stopped_runs
from pipelines.runner import DATASET, snapshot_dir, warehouse_path


class WarehouseResource(dg.ConfigurableResource):
    """The data directory that holds every vendor's DuckDB file and Parquet snapshots."""

    home: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Before a run's steps claim their pool slots: a slot still held by a run that was
        # killed (with no daemon to notice) would make this run's copy wait for ever.
        if context.instance is not None:
            for run_id in release_stopped_runs(context.instance):
                context.log.warning(
                    "run %s had stopped without a word (killed or crashed): marked failed, "
                    "its pool slot freed",
                    run_id,
                )

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    def database(self, vendor: str) -> Path:
        return warehouse_path(self.home_path, vendor)

    def snapshots(self, vendor: str) -> Path:
        return snapshot_dir(self.home_path, vendor)

    def catalog(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with every vendor file attached read-only, by vendor name."""
        con = duckdb.connect()
        for database in sorted(self.home_path.glob("warehouse/*.duckdb")):
            con.execute(f"ATTACH '{database}' AS \"{database.stem}\" (READ_ONLY)")
        return con

    def tables(self, vendor: str) -> list[str]:
        database = self.database(vendor)
        if not database.exists():
            return []
        with duckdb.connect(str(database), read_only=True) as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY 1",
                [DATASET],
            ).fetchall()
        return [row[0] for row in rows]
