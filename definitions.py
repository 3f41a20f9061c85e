"""lifeboat's one Definitions, assembled from each area: copies, safety, topology, continuity."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.continuity import continuity
from assets.saas import daily_partitions, saas_assets
from automation.copies import copy_jobs, copy_schedules
from automation.history import copied_history_sensor
from automation.mysql import replication_definitions, replication_resources
from automation.reconcile import reconcile_definitions
from automation.recovery import recovery_sensor
from automation.safety import safety, safety_resources, with_freshness
from lifeboat.config import Inventory, home, inventory
from pipelines.registry import vendors
from resources.vendors import vendor_resources
from resources.warehouse import WarehouseResource


def copies(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """The SaaS copies, a job and a schedule per vendor, and the sensor backfilling missed days."""
    jobs = copy_jobs(inventory)
    reconciliation = reconcile_definitions(inventory)
    return dg.Definitions(
        assets=with_freshness(saas_assets(inventory, data_dir), inventory),
        jobs=[*jobs, *reconciliation["jobs"]],
        schedules=[*copy_schedules(inventory), *reconciliation["schedules"]],
        sensors=[
            recovery_sensor(inventory, daily_partitions(inventory, data_dir), jobs),
            copied_history_sensor(inventory, data_dir),
        ],
    )


def shared_resources(inventory: Inventory, data_dir: Path) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(home=str(data_dir)),
        **vendor_resources(inventory),
    }


def build_definitions(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """Everything lifeboat shows in Dagster, for one inventory and one data directory."""
    inventory = inventory.bind(vendors())
    areas = [
        copies(inventory, data_dir),
        safety(inventory, data_dir),
        replication_definitions(inventory, data_dir),
        continuity(inventory, data_dir),
    ]
    resources = {
        **shared_resources(inventory, data_dir),
        **safety_resources(inventory, data_dir),
        **replication_resources(inventory, data_dir),
    }
    return dg.Definitions.merge(*areas, dg.Definitions(resources=resources))


defs = build_definitions(inventory(), home())
