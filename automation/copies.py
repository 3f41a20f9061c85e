"""Jobs and schedules that keep every vendor's copy within its RPO."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from lifeboat import names
from lifeboat.cadence import cron_for_rpo
from lifeboat.config import Inventory


def copy_jobs(inventory: Inventory) -> list[dg.UnresolvedAssetJobDefinition]:
    jobs = [
        dg.define_asset_job(
            names.copy_job(vendor),
            # The restore drill runs daily in its own job, not after every copy.
            selection=dg.AssetSelection.groups(vendor).without_checks(),
            description=f"Copy every enabled {vendor} dataset into the local warehouse.",
            tags={names.VENDOR_TAG: vendor},
        )
        for vendor in inventory.enabled_vendors()
    ]
    jobs.append(
        dg.define_asset_job(
            names.ALL_COPIES_JOB,
            selection=dg.AssetSelection.groups(*inventory.enabled_vendors()).without_checks(),
            description="Copy every enabled dataset of every vendor.",
        )
    )
    return jobs


def copy_schedules(inventory: Inventory) -> list[dg.ScheduleDefinition]:
    """One schedule per vendor, often enough for its strictest dataset RPO.

    A vendor with time-series datasets copies them as today's partition: the regular
    incremental copy. Past days are only loaded again by a backfill.
    """
    return [_vendor_schedule(inventory, vendor) for vendor in inventory.enabled_vendors()]


def _vendor_schedule(inventory: Inventory, vendor: str) -> dg.ScheduleDefinition:
    strictest = min(inventory.rpo(vendor, d) for d in inventory.enabled_datasets(vendor))
    partitioned = bool(inventory.daily_datasets(vendor))

    @dg.schedule(
        name=names.copy_schedule(vendor),
        job_name=names.copy_job(vendor),
        cron_schedule=cron_for_rpo(strictest),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Copies {vendor} at least twice per RPO (strictest: {strictest}), so one failed "
            "run still leaves time to catch up."
        ),
    )
    def every_rpo(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        if not partitioned:
            return dg.RunRequest()
        return dg.RunRequest(partition_key=today(context.scheduled_execution_time))

    return every_rpo


def today(when: datetime | None = None) -> str:
    """The partition key of the current UTC day: where regular copies land."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
