"""Jobs and schedules that keep every vendor's copy within its RPO."""

from __future__ import annotations

import dagster as dg

from lifeboat.cadence import cron_for_rpo
from lifeboat.config import Inventory

ALL_COPIES_JOB = "copy_all_vendors"


def vendor_job_name(vendor: str) -> str:
    return f"copy_{vendor}"


def copy_jobs(inventory: Inventory) -> list[dg.UnresolvedAssetJobDefinition]:
    jobs = [
        dg.define_asset_job(
            vendor_job_name(vendor),
            selection=dg.AssetSelection.groups(vendor),
            description=f"Copy every enabled {vendor} dataset into the local warehouse.",
            tags={"lifeboat/vendor": vendor},
        )
        for vendor in inventory.enabled_vendors()
    ]
    jobs.append(
        dg.define_asset_job(
            ALL_COPIES_JOB,
            selection=dg.AssetSelection.groups(*inventory.enabled_vendors()),
            description="Copy every enabled dataset of every vendor.",
        )
    )
    return jobs


def copy_schedules(inventory: Inventory) -> list[dg.ScheduleDefinition]:
    """One schedule per vendor, often enough for its strictest dataset RPO."""
    schedules = []
    for vendor in inventory.enabled_vendors():
        strictest = min(inventory.rpo(vendor, d) for d in inventory.enabled_datasets(vendor))
        schedules.append(
            dg.ScheduleDefinition(
                name=f"{vendor}_every_rpo",
                job_name=vendor_job_name(vendor),
                cron_schedule=cron_for_rpo(strictest),
                execution_timezone="UTC",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=(
                    f"Copies {vendor} at least twice per RPO (strictest: {strictest}), so one "
                    "failed run still leaves time to catch up."
                ),
            )
        )
    return schedules
