"""When a vendor answers again, backfill the days its copies missed, in one run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from automation.copies import today
from lifeboat import names
from lifeboat.alerts import Alert
from lifeboat.config import Inventory
from lifeboat.errors import VendorError
from lifeboat.messages import explain_catching_up
from pipelines.ping import ping
from resources.alerts import AlertsResource
from resources.vendors import VendorResource

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RECOVERY_TAG = "lifeboat/recovery"
# How far back a missed day is still caught up by itself; older ones wait for a person.
LOOKBACK_DAYS = 31
# A backfill that failed again is not relaunched for the same days sooner than this.
RETRY_AFTER = timedelta(hours=1)
CHECK_EVERY_SECONDS = 300
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def missed_days(
    instance: dg.DagsterInstance,
    keys: list[dg.AssetKey],
    partitions: dg.PartitionsDefinition,
    now: datetime,
) -> list[str]:
    """Past days (today excluded) whose latest copy of any of these datasets failed."""
    current = today(now)
    recent = [
        key
        for key in partitions.get_partition_keys(current_time=now)[-(LOOKBACK_DAYS + 1) :]
        if key < current
    ]
    missed: set[str] = set()
    for asset_key in keys:
        status = instance.get_status_by_partition(asset_key, recent, partitions) or {}
        missed |= {key for key, state in status.items() if state == dg.AssetPartitionStatus.FAILED}
    return sorted(missed)


def _busy(instance: dg.DagsterInstance, vendor: str) -> bool:
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=names.copy_job(vendor), statuses=ACTIVE), limit=1
    )
    return bool(runs)


def recovery_sensor(
    inventory: Inventory,
    partitions: dg.PartitionsDefinition,
    jobs: list[dg.UnresolvedAssetJobDefinition],
) -> dg.SensorDefinition:
    """Per vendor with daily datasets: once it answers again, one backfill of the missed days."""
    vendors = [v for v in inventory.enabled_vendors() if inventory.daily_datasets(v)]
    targets = [job for job in jobs if job.name in {names.copy_job(v) for v in vendors}]

    def vendor_recovery_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        alerts: AlertsResource = context.resources.alerts
        now = datetime.now(UTC)
        launched: dict[str, Any] = json.loads(context.cursor or "{}")
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        for vendor in vendors:
            keys = [dg.AssetKey([vendor, d]) for d in inventory.daily_datasets(vendor)]
            missed = missed_days(context.instance, keys, partitions, now)
            if not missed:
                launched.pop(vendor, None)
                continue
            span = [missed[0], missed[-1]]
            previous = launched.get(vendor)
            if (
                previous
                and previous["span"] == span
                and (now - datetime.fromisoformat(previous["at"]) < RETRY_AFTER)
            ):
                notes.append(f"{vendor}: backfill of {span[0]}..{span[1]} already launched")
                continue
            if _busy(context.instance, vendor):
                notes.append(f"{vendor}: a copy is running; checking again later")
                continue
            try:
                api: VendorResource = getattr(context.resources, vendor)
                ping(api.context())
            except VendorError as error:
                notes.append(f"{vendor}: still failing ({error.kind})")
                continue
            requests.append(
                dg.RunRequest(
                    job_name=names.copy_job(vendor),
                    asset_selection=keys,
                    tags={RANGE_START_TAG: span[0], RANGE_END_TAG: span[1], RECOVERY_TAG: "true"},
                )
            )
            launched[vendor] = {"span": span, "at": now.isoformat()}
            title = inventory.registry.title(vendor)
            alerts.alerter().send(
                Alert("catching_up", vendor, None, explain_catching_up(title, missed))
            )
        cursor = json.dumps(launched, sort_keys=True)
        if not requests:
            return dg.SensorResult(skip_reason="; ".join(notes) or "nothing missed", cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return dg.sensor(
        name=names.RECOVERY_SENSOR,
        minimum_interval_seconds=CHECK_EVERY_SECONDS,
        jobs=targets,
        required_resource_keys={*vendors, "alerts"},
        default_status=(
            dg.DefaultSensorStatus.RUNNING
            if inventory.backfill_after_outage
            else dg.DefaultSensorStatus.STOPPED
        ),
        description=(
            "Notices a vendor whose copies failed answering again, and backfills the days "
            "they missed in one run, with an alert saying what it is catching up."
        ),
    )(vendor_recovery_sensor)
