"""The days each daily copy holds, shown as copied in Dagster's partitions.

A copy's daily partitions start where its history starts. A first copy lists everything,
and each regular copy follows the cursor from the last, so every past day before the
latest regular copy is in the copy. This sensor records those days as materialized, so
that a fully copied dataset never shows a day missing; a day whose run failed stays
failed until a backfill loads it. It runs apart from the copies: recording years of days
takes Dagster a while, and the copies are not made to wait for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.saas import covered_days
from lifeboat import names
from lifeboat.config import Inventory

CHECK_EVERY_SECONDS = 30


def covered_events(
    instance: dg.DagsterInstance,
    inventory: Inventory,
    data_dir: Path,
    keys: list[dg.AssetKey],
    now: datetime,
) -> list[dg.AssetMaterialization]:
    """A materialization of each past day the daily copies cover and Dagster does not show."""
    events = []
    for key in keys:
        days, copied = covered_days(instance, inventory, data_dir, key, now)
        if copied is None:
            continue
        description = (
            f"In the copy: the copy of {copied:%Y-%m-%d %H:%M} UTC holds every change up to then."
        )
        events += [
            dg.AssetMaterialization(asset_key=key, partition=day, description=description)
            for day in days
        ]
    return events


def copied_history_sensor(inventory: Inventory, data_dir: Path) -> dg.SensorDefinition:
    keys = [
        dg.AssetKey([vendor, dataset])
        for vendor in inventory.enabled_vendors()
        for dataset in inventory.daily_datasets(vendor)
    ]

    @dg.sensor(
        name=names.HISTORY_SENSOR,
        minimum_interval_seconds=CHECK_EVERY_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Shows every past day a daily copy holds as copied in its partitions: a first "
            "copy lists everything, later copies continue from it. A day whose copy failed "
            "stays failed until a backfill loads it."
        ),
    )
    def copied_history(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        events = covered_events(context.instance, inventory, data_dir, keys, datetime.now(UTC))
        if not events:
            return dg.SkipReason("every past day of every daily copy already shows as copied")
        counts: dict[str, int] = {}
        for event in events:
            name = "/".join(event.asset_key.path)
            counts[name] = counts.get(name, 0) + 1
        context.log.info(
            "recording the days each copy holds: %s",
            ", ".join(f"{name} {count:,} days" for name, count in sorted(counts.items())),
        )
        return dg.SensorResult(asset_events=events)

    return copied_history
