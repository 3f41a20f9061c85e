"""lifeboat's one Definitions: SaaS copies, their schedules, and the resources they use."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dlt import DagsterDltResource

from assets.saas import saas_assets
from automation.copies import copy_jobs, copy_schedules
from lifeboat.config import Inventory, home, inventory
from resources.vendors import vendor_resources
from resources.warehouse import WarehouseResource


def build_definitions(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """Everything lifeboat shows in Dagster, for one inventory and one data directory."""
    return dg.Definitions(
        assets=[*saas_assets(inventory, data_dir)],
        jobs=[*copy_jobs(inventory)],
        schedules=[*copy_schedules(inventory)],
        resources={
            "dlt": DagsterDltResource(),
            "warehouse": WarehouseResource(home=str(data_dir)),
            **vendor_resources(inventory),
        },
    )


defs = build_definitions(inventory(), home())
