"""The bad-day kit as assets: contacts, open work, vendor status and the report."""

# No `from __future__ import annotations` here: Dagster inspects the context annotation.

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.mysql import GROUP as MYSQL_GROUP
from assets.mysql import HEALTH_KEY, READINESS_KEY
from assets.outcomes import failure_outcome, failure_text
from assets.saas import latest_copy
from lifeboat import names
from lifeboat.config import Inventory
from lifeboat.continuity import vendor_status as vs
from lifeboat.continuity.catalog import load, open_catalog, output_dir, query
from lifeboat.continuity.report import (
    write_contacts,
    write_open_work,
    write_report,
    write_vendor_status,
)
from lifeboat.continuity.settings import CONTACTS
from lifeboat.continuity.topology import topology_status
from resources.warehouse import WarehouseResource

GROUP = "continuity"
CONTACTS_KEY = dg.AssetKey([GROUP, "contacts"])
OPEN_WORK_KEY = dg.AssetKey([GROUP, "open_work"])
VENDOR_STATUS_KEY = dg.AssetKey([GROUP, "vendor_status"])
REPORT_KEY = dg.AssetKey([GROUP, "report"])
REPORT_JOB = "continuity_report"

# The vendor tables each output is made of (those not copied are left out of the lineage).
CONTACT_SOURCES = (
    ("stripe", "customers"),
    ("stripe", "charges"),
    ("hubspot", "contacts"),
    ("zendesk", "users"),
    ("zendesk", "tickets"),
    ("mailchimp", "members"),
    ("youtube", "subscribers"),
)
OPEN_WORK_SOURCES = (
    ("zendesk", "tickets"),
    ("zendesk", "users"),
    ("stripe", "invoices"),
    ("stripe", "subscriptions"),
    ("stripe", "customers"),
)
AUTOMATION_SENSOR = "continuity_automation"
# The bad-day kit rebuilds itself: when a copy lands or fails (a lockout belongs in the
# report), or when the MySQL topology's state changes (a new primary, a replica gone wrong;
# not every probe). It waits while a copy it reads is still running.
_MYSQL = dg.AssetSelection.groups(MYSQL_GROUP)
REBUILD = (
    (
        dg.AutomationCondition.newly_missing()
        | dg.AutomationCondition.any_deps_updated().ignore(_MYSQL)
        | dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.execution_failed().newly_true()
        ).ignore(_MYSQL)
        | dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.data_version_changed()
        ).allow(_MYSQL)
    ).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("rebuild when a copy or the topology changes")
FAILED_RUN = (dg.DagsterRunStatus.FAILURE,)
FINISHED_RUN = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)


def _copied(inventory: Inventory, sources: tuple[tuple[str, str], ...]) -> list[dg.AssetKey]:
    enabled = inventory.enabled_vendors()
    return [
        dg.AssetKey([vendor, dataset])
        for vendor, dataset in sources
        if vendor in enabled and dataset in inventory.enabled_datasets(vendor)
    ]


def vendor_signals(
    instance: dg.DagsterInstance, inventory: Inventory
) -> tuple[dict[str, vs.Failure], dict[tuple[str, str], datetime]]:
    """What Dagster knows of each vendor: its current failure and each dataset's last copy.

    A vendor is failing when the newest finished run that copied it (its own job or the
    all-vendors job) failed in its step. This is the one place that reads it, so it can
    later read the alerts' state instead.
    """
    failures: dict[str, vs.Failure] = {}
    materialized: dict[tuple[str, str], datetime] = {}
    for vendor in inventory.enabled_vendors():
        for dataset in inventory.enabled_datasets(vendor):
            copied = latest_copy(instance, dg.AssetKey([vendor, dataset]))
            if copied is not None:
                materialized[(vendor, dataset)] = copied
        latest: dg.RunRecord | None = None
        for job in (names.copy_job(vendor), names.ALL_COPIES_JOB):
            records = instance.get_run_records(
                dg.RunsFilter(job_name=job, statuses=list(FINISHED_RUN)), limit=1
            )
            if records and (
                latest is None or records[0].create_timestamp > latest.create_timestamp
            ):
                latest = records[0]
        if latest is None or latest.dagster_run.status not in FAILED_RUN:
            continue
        run = latest.dagster_run
        if run.job_name == names.copy_job(vendor):
            # The vendor's own run failing before its step (bad configuration, say) counts too;
            # a step failure found below says more and replaces it.
            for record in instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
            ).records:
                message = record.event_log_entry.dagster_event.message or "run failed"
                failures[vendor] = vs.Failure(
                    "failed",
                    message.strip().splitlines()[0][:500],
                    datetime.fromtimestamp(record.event_log_entry.timestamp, UTC),
                )
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        ).records:
            event = record.event_log_entry.dagster_event
            if event is None or names.vendor_of_step(event.step_key, [vendor]) != vendor:
                continue
            outcome = failure_outcome(event)
            failures[vendor] = vs.Failure(
                outcome.kind if outcome else vs.FAILED,
                str(outcome.error()) if outcome else (failure_text(event) or "run failed")[:500],
                datetime.fromtimestamp(record.event_log_entry.timestamp, UTC),
            )
    return failures, materialized


def _path(path: Path) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(path))


def continuity(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """Assets that turn the copies into contacts, open work, vendor status and the report."""
    every_table = [
        dg.AssetKey([vendor, dataset])
        for vendor in inventory.enabled_vendors()
        for dataset in inventory.enabled_datasets(vendor)
    ]

    @dg.asset(
        key=CONTACTS_KEY,
        group_name=GROUP,
        automation_condition=REBUILD,
        kinds={"duckdb", "csv", "parquet"},
        deps=_copied(inventory, CONTACT_SOURCES),
        description="Every customer once, across all vendors, with how to reach them.",
    )
    def contacts(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        unreadable: list[str] = []
        with open_catalog(warehouse.home_path, unreadable) as con:
            rows, paths = write_contacts(con, warehouse.home_path)
            reachable, marketing = query(
                con,
                "SELECT count(*) FILTER (WHERE email IS NOT NULL OR phone IS NOT NULL), "
                "count(*) FILTER (WHERE marketing_ok) FROM contacts",
            )[0]
        context.log.info("%s contacts written to %s", f"{rows:,}", paths[0])
        if unreadable:
            context.log.warning("being copied, left out: %s", ", ".join(unreadable))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(rows),
                "reachable": dg.MetadataValue.int(int(reachable)),
                "marketing_ok": dg.MetadataValue.int(int(marketing)),
                "csv": _path(paths[0]),
                "parquet": _path(paths[1]),
            }
        )

    @dg.asset(
        key=OPEN_WORK_KEY,
        group_name=GROUP,
        automation_condition=REBUILD,
        kinds={"duckdb", "csv", "parquet"},
        deps=[*_copied(inventory, OPEN_WORK_SOURCES), CONTACTS_KEY],
        description="Tickets waiting, invoices unpaid and subscriptions about to renew.",
    )
    def open_work(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        unreadable: list[str] = []
        with open_catalog(warehouse.home_path, unreadable) as con:
            load(con, "contacts", output_dir(warehouse.home_path), CONTACTS)
            rows, as_of, paths = write_open_work(con, warehouse.home_path, unreadable=unreadable)
            counts = dict(query(con, "SELECT kind, count(*) FROM open_work GROUP BY kind"))
            overdue = query(con, "SELECT count(*) FROM open_work WHERE overdue")[0][0]
        context.log.info("%s open items as of %s", f"{rows:,}", as_of.isoformat())
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(rows),
                "tickets": dg.MetadataValue.int(counts.get("ticket", 0)),
                "unpaid_invoices": dg.MetadataValue.int(counts.get("invoice", 0)),
                "renewals": dg.MetadataValue.int(counts.get("renewal", 0)),
                "overdue": dg.MetadataValue.int(overdue),
                "as_of": dg.MetadataValue.text(as_of.isoformat()),
                "csv": _path(paths[0]),
                "parquet": _path(paths[1]),
            }
        )

    @dg.asset(
        key=VENDOR_STATUS_KEY,
        group_name=GROUP,
        automation_condition=REBUILD,
        kinds={"csv"},
        deps=every_table,
        description="Per vendor: how fresh the copy is, whether its RPO is met, what is failing.",
    )
    def vendor_status(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        failures, materialized = vendor_signals(context.instance, inventory)
        rows, path = write_vendor_status(warehouse.home_path, inventory, failures, materialized)
        grouped = vs.summary(rows)
        for vendor, failure in failures.items():
            context.log.warning("%s: %s", inventory.registry.title(vendor), failure.message)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(len(rows)),
                **{
                    f"vendors_{state.replace(' ', '_')}": dg.MetadataValue.text(", ".join(t))
                    for state, t in grouped.items()
                },
                "csv": _path(path),
            }
        )

    @dg.asset(
        key=REPORT_KEY,
        group_name=GROUP,
        automation_condition=REBUILD,
        kinds={"html", "markdown"},
        # The report shows the MySQL topology too: its state is an input.
        deps=[CONTACTS_KEY, OPEN_WORK_KEY, VENDOR_STATUS_KEY, HEALTH_KEY, READINESS_KEY],
        description="The bad-day report: one HTML file that opens offline, plus a Markdown copy.",
    )
    def report(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        home = warehouse.home_path
        outputs = write_report(home, inventory, topology_status(home, inventory))
        context.log.info("continuity report: %s", outputs.html)
        return dg.MaterializeResult(
            metadata={
                "html": _path(outputs.html),
                "markdown": _path(outputs.markdown),
                "contacts": dg.MetadataValue.int(outputs.contacts),
                "open_work": dg.MetadataValue.int(outputs.open_work),
                "vendors": dg.MetadataValue.int(outputs.vendors),
            }
        )

    return dg.Definitions(
        assets=[contacts, open_work, vendor_status, report],
        jobs=[
            dg.define_asset_job(
                REPORT_JOB,
                selection=dg.AssetSelection.groups(GROUP),
                description="Rebuild contacts, open work, vendor status and the report "
                "from the copies as they are.",
            )
        ],
        sensors=[
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR,
                target=dg.AssetSelection.groups(GROUP),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=30,
                description="Rebuilds the bad-day kit (contacts, open work, vendor status, "
                "the report) when a copy lands or fails, or the MySQL topology changes.",
            )
        ],
    )
