"""Watching the copies: freshness from each RPO, alerts on stale copies and failed runs, drills."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg

from assets.outcomes import failure_outcome, failure_text
from lifeboat import names
from lifeboat.alerts import OK, Alert, Alerter, kind_for_error
from lifeboat.config import Inventory
from lifeboat.messages import (
    Facts,
    explain,
    explain_recovered,
    explain_stale,
    gather_facts,
)
from lifeboat.secrets import mask
from lifeboat.status import copy_status
from pipelines.restore import drill
from resources.alerts import AlertsResource, alerts_resource
from resources.warehouse import WarehouseResource

# How often the stale-copy sensor looks: well inside the shortest RPO anyone sets.
STALE_CHECK_SECONDS = 60
FAILURE_CHECK_SECONDS = 30
# Run states in which a copy is still on its way.
_IN_FLIGHT = {
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
}
RESTORE_DRILL = "restore_drill"
# Daily, after the night's copies and the Sunday reconciliation (03:00 UTC).
RESTORE_DRILL_CRON = "30 4 * * *"


def _vendor_of_step(step_key: str | None, run: dg.DagsterRun) -> str | None:
    """The vendor a failed step copies (`<vendor>_copy` or `<vendor>_daily`), else the run's."""
    return names.vendor_of_step(step_key) or run.tags.get(names.VENDOR_TAG)


def failed_vendors(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str, dict[str, Any]]:
    """Per vendor whose copy failed in this run: the alert state and the error, when named."""
    found: dict[str, dict[str, Any]] = {}
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        if event is None:
            continue
        vendor = _vendor_of_step(event.step_key, run)
        if vendor is None:
            continue
        outcome = failure_outcome(event)
        error = outcome.error() if outcome is not None else None
        state = kind_for_error(error.kind) if error else "failing_runs"
        found[vendor] = {"state": state, "error": error, "text": failure_text(event)}
    vendor = run.tags.get(names.VENDOR_TAG)
    if not found and vendor:
        # The run failed before any step (e.g. a missing credential): still a failing copy.
        found[vendor] = {"state": "failing_runs", "error": None, "text": ""}
    return found


def _explain_failure(facts: Facts, entry: dict[str, Any], run_id: str) -> str:
    if entry["error"] is not None:
        return explain(entry["error"], facts)
    text = mask(entry["text"].strip().splitlines()[0] if entry["text"].strip() else "")
    reason = f": {text}" if text else ""
    return (
        f"The copy of {facts.title} failed{reason}. The copy held before is intact. Open run "
        f"{run_id[:8]} of {facts.job} in the Dagster UI to see why, then run it again."
    )


def alert_failed_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    inventory: Inventory,
    home: Path,
    alerter: Alerter,
) -> list[Alert]:
    """Turn a failed copy run into one alert per vendor whose state changed."""
    sent = []
    for vendor, entry in failed_vendors(instance, run).items():
        if vendor not in inventory.vendors:
            continue
        facts = gather_facts(vendor, home, inventory)
        alert = alerter.observe(
            vendor,
            None,
            entry["state"],
            _explain_failure(facts, entry, run.run_id),
        )
        if alert is not None:
            sent.append(alert)
    return sent


def alert_successful_run(
    run: dg.DagsterRun, inventory: Inventory, home: Path, alerter: Alerter
) -> list[Alert]:
    """A successful copy clears its vendors' failure state, with a recovery message."""
    vendor = run.tags.get(names.VENDOR_TAG)
    vendors = [vendor] if vendor else list(inventory.enabled_vendors())
    sent = []
    for name in vendors:
        if name not in inventory.vendors:
            continue
        facts = gather_facts(name, home, inventory)
        alert = alerter.observe(name, None, OK, partial(explain_recovered, facts, None))
        if alert is not None:
            sent.append(alert)
    return sent


def _schedule_stopped(instance: dg.DagsterInstance, vendor: str) -> bool:
    """True when a person switched the vendor's schedule off (its default is on)."""
    for state in instance.all_instigator_state():
        if state.name == names.copy_schedule(vendor) and state.status.value == "STOPPED":
            return True
    return False


def stale_cause(instance: dg.DagsterInstance, vendor: str, alerter: Alerter) -> str:
    """Why a vendor's copy is old: its last run's failure, the schedule, or nothing ran."""
    records = [
        record
        for job in (names.copy_job(vendor), names.ALL_COPIES_JOB)
        for record in instance.get_run_records(filters=dg.RunsFilter(job_name=job), limit=1)
    ]
    if records:
        latest = max(records, key=lambda record: record.create_timestamp).dagster_run
        if latest.status in _IN_FLIGHT:
            return "running"
        if latest.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            failed = failed_vendors(instance, latest).get(vendor)
            if failed is not None:
                return failed["state"]
            known = alerter.state(vendor, None)
            return known if known != OK else "failing_runs"
    if _schedule_stopped(instance, vendor):
        return "schedule_off"
    return "not_run"


def check_staleness(
    instance: dg.DagsterInstance,
    inventory: Inventory,
    home: Path,
    alerter: Alerter,
    now: datetime | None = None,
) -> list[Alert]:
    """Alert each dataset whose copy got older than its RPO, and when it is fresh again.

    A dataset never copied is not called stale: its first failing run alerts instead.
    """
    now = now or datetime.now(UTC)
    causes: dict[str, str] = {}
    facts: dict[str, Facts] = {}
    sent = []
    for status in copy_status(home, inventory):
        if status.copied_at is None:
            continue
        vendor, dataset = status.vendor, status.dataset
        rpo = inventory.rpo(vendor, dataset)
        stale = now - status.copied_at > rpo
        if stale and vendor not in causes:
            causes[vendor] = stale_cause(instance, vendor, alerter)
        if vendor not in facts:
            facts[vendor] = gather_facts(vendor, home, inventory)
        fact = facts[vendor]
        if stale:
            alert = alerter.observe(
                vendor,
                dataset,
                "stale",
                explain_stale(fact, dataset, rpo, causes[vendor], now),
            )
        else:
            alert = alerter.observe(
                vendor,
                dataset,
                OK,
                partial(explain_recovered, fact, dataset),
            )
        if alert is not None:
            sent.append(alert)
    return sent


def freshness_policy(rpo: timedelta) -> dg.FreshnessPolicy:
    """Fail past the RPO; warn past half of it, when one scheduled copy has been missed."""
    return dg.FreshnessPolicy.time_window(fail_window=rpo, warn_window=rpo / 2)


def with_freshness(
    assets: list[dg.AssetsDefinition], inventory: Inventory
) -> list[dg.AssetsDefinition]:
    """The copies, each dataset with a freshness policy from its RPO in lifeboat.yaml."""

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        vendor, dataset = spec.key.path[0], spec.key.path[-1]
        if vendor not in inventory.vendors:
            return spec
        return spec.replace_attributes(
            freshness_policy=freshness_policy(inventory.rpo(vendor, dataset))
        )

    return [asset.map_asset_specs(attach) for asset in assets]


def restore_drill(inventory: Inventory, vendor: str) -> dg.AssetChecksDefinition:
    """Per vendor: restore the latest snapshot in memory and compare it with the live copy."""
    title = inventory.registry.title(vendor)
    specs = [
        dg.AssetCheckSpec(
            RESTORE_DRILL,
            asset=dg.AssetKey([vendor, dataset]),
            description=(
                f"The {title} {dataset} snapshot restores to exactly the rows of the live copy."
            ),
        )
        for dataset in inventory.enabled_datasets(vendor)
    ]

    # Subsettable: a run of some of the vendor's datasets (a backfill of its daily ones)
    # drills just those.
    @dg.multi_asset_check(name=f"{vendor}_restore_drill", specs=specs, can_subset=True)
    def _drill(context, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        if context.run.asset_selection:
            # A run that copies (a backfill from the UI, a "Materialize" click) is not slowed
            # by restoring whole snapshots: the drill runs in runs of checks alone.
            context.log.info(
                "%s restore drill skipped in a run that copies data; it runs daily in the "
                "%s job (or select the check alone in the UI)",
                title,
                names.RESTORE_DRILL_JOB,
            )
            return
        report = drill(warehouse.home_path, vendor)
        selected = context.selected_asset_check_keys
        for spec in specs:
            if spec.key not in selected:
                continue
            dataset = spec.asset_key.path[-1]
            table = report.tables.get(dataset)
            missing = [] if table or report.problems else ["not copied yet"]
            problems = [*report.problems, *(table.problems if table else missing)]
            metadata: dict[str, Any] = {}
            if table is not None and table.live_rows is not None:
                metadata = {
                    "live_rows": dg.MetadataValue.int(table.live_rows),
                    "restored_rows": dg.MetadataValue.int(table.restored_rows or 0),
                    "live_checksum": dg.MetadataValue.text(table.live_checksum or ""),
                    "restored_checksum": dg.MetadataValue.text(table.restored_checksum or ""),
                }
            if problems:
                metadata["problems"] = dg.MetadataValue.text("; ".join(problems))
            yield dg.AssetCheckResult(
                asset_key=spec.asset_key,
                check_name=RESTORE_DRILL,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    "; ".join(problems)
                    if problems
                    else (
                        f"{title} {dataset}: {table.restored_rows or 0:,} rows restored from "
                        "its snapshot; count and checksum match the live copy"
                    )
                ),
                metadata=metadata,
            )

    return _drill


def restore_drill_job(inventory: Inventory) -> dg.UnresolvedAssetJobDefinition:
    """Every vendor's restore drill, apart from the copies: a drill restores whole snapshots."""
    return dg.define_asset_job(
        names.RESTORE_DRILL_JOB,
        selection=dg.AssetSelection.checks(
            *(
                dg.AssetCheckKey(dg.AssetKey([vendor, dataset]), RESTORE_DRILL)
                for vendor in inventory.enabled_vendors()
                for dataset in inventory.enabled_datasets(vendor)
            )
        ),
        description=(
            "Restore every vendor's latest snapshot into memory and compare it with the live "
            "copy (row counts and checksums). Runs daily; run it by hand after a restore."
        ),
    )


def restore_drill_schedule() -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=names.RESTORE_DRILL_SCHEDULE,
        job_name=names.RESTORE_DRILL_JOB,
        cron_schedule=RESTORE_DRILL_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Proves every day that the snapshots restore to exactly the live copy.",
    )


def stale_backup_sensor(inventory: Inventory, data_dir: Path) -> dg.SensorDefinition:
    @dg.sensor(
        name="stale_backup_sensor",
        minimum_interval_seconds=STALE_CHECK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Alerts once when a copy gets older than its RPO, saying why (outage, lockout, "
            "failing runs, schedule off), and again when it is fresh."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, alerts: AlertsResource) -> dg.SkipReason:
        sent = check_staleness(context.instance, inventory, data_dir, alerts.alerter())
        return dg.SkipReason(
            "; ".join(a.subject for a in sent) if sent else "no change in any copy's freshness"
        )

    return _sensor


def copy_failure_sensor(inventory: Inventory, data_dir: Path) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="copy_failure_sensor",
        minimum_interval_seconds=FAILURE_CHECK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Turns a failed copy run into one plain alert per change of state.",
    )
    def _sensor(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
        run = context.dagster_run
        if not run.job_name.startswith("copy_"):
            return
        alert_failed_run(context.instance, run, inventory, data_dir, alerts.alerter())

    return _sensor


def copy_success_sensor(inventory: Inventory, data_dir: Path) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="copy_success_sensor",
        minimum_interval_seconds=FAILURE_CHECK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends the all-clear when a vendor that failed copies again.",
    )
    def _sensor(context: dg.RunStatusSensorContext, alerts: AlertsResource) -> None:
        run = context.dagster_run
        if not run.job_name.startswith("copy_"):
            return
        alert_successful_run(run, inventory, data_dir, alerts.alerter())

    return _sensor


def safety(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """Restore drills and the sensors that alert a person (freshness: see `with_freshness`)."""
    return dg.Definitions(
        asset_checks=[restore_drill(inventory, vendor) for vendor in inventory.enabled_vendors()],
        jobs=[restore_drill_job(inventory)],
        schedules=[restore_drill_schedule()],
        sensors=[
            stale_backup_sensor(inventory, data_dir),
            copy_failure_sensor(inventory, data_dir),
            copy_success_sensor(inventory, data_dir),
        ],
    )


def safety_resources(inventory: Inventory, data_dir: Path) -> dict[str, object]:
    """The `alerts` resource, configured from the inventory's `alerts:` section."""
    return {"alerts": alerts_resource(inventory, data_dir)}
