"""A weekly full reconciliation per vendor: absences become soft deletes, shrinkage an alarm."""

from __future__ import annotations

from typing import Any

import dagster as dg

from lifeboat.config import Inventory
from lifeboat.messages import explain, gather_facts, vendor_error_in
from pipelines.reconcile import reconcile
from resources.vendors import VendorResource, with_vendor_parameters
from resources.warehouse import WarehouseResource

# Sunday 03:00 UTC: a full listing is the heaviest read lifeboat makes of a vendor.
RECONCILE_CRON = "0 3 * * 0"


def reconcile_job_name(vendor: str) -> str:
    return f"reconcile_{vendor}"


def _reconcile_job(inventory: Inventory, vendor: str) -> dg.JobDefinition:
    def run(
        context: dg.OpExecutionContext, warehouse: WarehouseResource, **apis: VendorResource
    ) -> None:
        try:
            result = reconcile(apis[vendor].context(), warehouse.home_path)
        except Exception as exc:
            error = vendor_error_in(exc)
            if error is None:
                raise
            raise dg.Failure(
                description=explain(error, gather_facts(vendor, warehouse.home_path, inventory)),
                metadata={"lifeboat/error_kind": error.kind},
            ) from error
        context.log.info(
            "%s: listed %s; marked deleted (gone upstream) %s",
            vendor,
            result.listed,
            result.marked_deleted,
        )

    op = dg.op(
        name=f"reconcile_{vendor}_op",
        pool=f"vendor_{vendor}",
        description=f"List every {vendor} dataset in full and mark records gone upstream deleted.",
    )(with_vendor_parameters(run, [vendor]))

    @dg.job(
        name=reconcile_job_name(vendor),
        description=(
            f"Compare a full listing of {vendor} with the copy: records gone upstream are "
            "marked deleted (never removed); a listing far smaller than the copy fails loudly."
        ),
        tags={"lifeboat/vendor": vendor},
    )
    def job() -> None:
        op()

    return job


def reconcile_definitions(inventory: Inventory) -> dict[str, Any]:
    jobs = [_reconcile_job(inventory, vendor) for vendor in inventory.enabled_vendors()]
    schedules = [
        dg.ScheduleDefinition(
            name=f"{job.name}_weekly",
            job=job,
            cron_schedule=RECONCILE_CRON,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
        for job in jobs
    ]
    return {"jobs": jobs, "schedules": schedules}
