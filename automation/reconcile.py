"""A weekly full reconciliation per vendor: absences become soft deletes, shrinkage an alarm."""

# No `from __future__ import annotations` here: Dagster inspects the context annotation.

from typing import Any

import dagster as dg

from assets.outcomes import copy_failure
from lifeboat import names
from lifeboat.config import Inventory
from pipelines.reconcile import reconcile
from resources.vendors import vendor_resource
from resources.warehouse import WarehouseResource

# Sunday 03:00 UTC: a full listing is the heaviest read lifeboat makes of a vendor.
RECONCILE_CRON = "0 3 * * 0"


def _reconcile_job(inventory: Inventory, vendor: str) -> dg.JobDefinition:
    def run(context: dg.OpExecutionContext) -> None:
        warehouse: WarehouseResource = context.resources.warehouse
        api = vendor_resource(context, vendor)
        try:
            result = reconcile(api.context(), warehouse.home_path)
        except Exception as exc:
            secrets = api.secrets()
            failure = copy_failure(exc, vendor, warehouse.home_path, inventory, secrets)
            if failure is None:
                raise
            raise failure from exc
        context.log.info(
            "%s: listed %s; marked deleted (gone upstream) %s",
            vendor,
            result.listed,
            result.marked_deleted,
        )

    op = dg.op(
        name=names.reconcile_op(vendor),
        pool=names.vendor_pool(vendor),
        description=f"List every {vendor} dataset in full and mark records gone upstream deleted.",
        required_resource_keys={vendor, "warehouse"},
    )(run)

    @dg.job(
        name=names.reconcile_job(vendor),
        description=(
            f"Compare a full listing of {vendor} with the copy: records gone upstream are "
            "marked deleted (never removed); a listing far smaller than the copy fails loudly."
        ),
        tags={names.VENDOR_TAG: vendor},
    )
    def job() -> None:
        op()

    return job


def reconcile_definitions(inventory: Inventory) -> dict[str, Any]:
    vendors = list(inventory.enabled_vendors())
    jobs = [_reconcile_job(inventory, vendor) for vendor in vendors]
    schedules = [
        dg.ScheduleDefinition(
            name=names.reconcile_schedule(vendor),
            job=job,
            cron_schedule=RECONCILE_CRON,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
        for vendor, job in zip(vendors, jobs, strict=True)
    ]
    return {"jobs": jobs, "schedules": schedules}
