"""A fully copied daily dataset shows every day of its history copied, in Dagster's own terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.continuity import vendor_signals
from assets.saas import daily_partitions
from automation.copies import today
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.config import load_inventory
from lifeboat.names import HISTORY_SENSOR
from pipelines.coverage import history_starts
from pipelines.registry import vendors
from tests.inventories import stripe_only
from tests.keys import STRIPE_KEY

CHARGES = dg.AssetKey(["stripe", "charges"])
INVOICES = dg.AssetKey(["stripe", "invoices"])


def record_history(defs: dg.Definitions, instance: dg.DagsterInstance) -> int:
    """One tick of the sensor, its events stored as the daemon stores them."""
    repository = defs.get_repository_def()
    context = dg.build_sensor_context(instance=instance, repository_def=repository)
    result = repository.get_sensor_def(HISTORY_SENSOR).evaluate_tick(context)
    events = list(result.asset_events or [])
    for event in events:
        instance.report_runless_asset_event(event)
    return len(events)


def counts(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: dg.PartitionsDefinition
) -> dict[str, int]:
    """What the Partitions tab counts: materialized, failed and missing days."""
    keys = partitions.get_partition_keys()
    status = instance.get_status_by_partition(key, keys, partitions) or {}
    found = {"materialized": 0, "failed": 0, "missing": 0}
    for day in keys:
        state = status.get(day)
        if state == dg.AssetPartitionStatus.MATERIALIZED:
            found["materialized"] += 1
        elif state == dg.AssetPartitionStatus.FAILED:
            found["failed"] += 1
        else:
            found["missing"] += 1
    return found


@pytest.fixture
def stripe_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_TEST_STRIPE_KEY", STRIPE_KEY)


def test_a_first_copy_shows_every_day_of_its_history_copied_and_a_failed_day_failed(
    emulator, home: Path, tmp_path: Path, stripe_key: None
) -> None:
    inventory = load_inventory(stripe_only(tmp_path, emulator.url), vendors())
    defs = build_definitions(inventory, home)
    # Before any copy, the last 30 days: nothing is copied yet, so they are missing.
    assert len(daily_partitions(inventory, home).get_partition_keys()) == 31
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("copy_stripe")
    assert job.execute_in_process(partition_key=today(), instance=instance).success

    # The partitions now start at the earliest change the copy holds (the emulator's data
    # begins a year before its clock), not at a fixed date.
    start = history_starts(home)["stripe"]
    assert start.isoformat() == "2025-01-01"
    defs = build_definitions(inventory, home)  # as Dagster reloads the code location
    job = defs.resolve_job_def("copy_stripe")
    partitions = daily_partitions(inventory, home)
    assert partitions.get_first_partition_key() == start.isoformat()
    days = len(partitions.get_partition_keys())
    assert counts(instance, CHARGES, partitions) == {
        "materialized": 1,
        "failed": 0,
        "missing": days - 1,
    }

    copied_by = datetime.now(UTC)
    recorded = record_history(defs, instance)
    assert recorded == 2 * (days - 1)  # charges and invoices, every past day
    # Recording the history says nothing of freshness: the last copy is still the run's.
    _, last_copy = vendor_signals(instance, inventory)
    assert last_copy[("stripe", "charges")] < copied_by
    for key in (CHARGES, INVOICES):
        assert counts(instance, key, partitions) == {
            "materialized": days,
            "failed": 0,
            "missing": 0,
        }
    assert record_history(defs, instance) == 0  # recorded once

    # Stripe is down: yesterday's copy fails, and shows failed until a backfill loads it.
    control = EmulatorControl(emulator.url)
    control.fault("stripe", "outage")
    yesterday = today(datetime.now(UTC) - timedelta(days=1))
    assert not job.execute_in_process(
        partition_key=yesterday, instance=instance, raise_on_error=False
    ).success
    control.clear_faults("stripe")
    assert record_history(defs, instance) == 0
    assert counts(instance, CHARGES, partitions)["failed"] == 1
    assert job.execute_in_process(partition_key=yesterday, instance=instance).success
    assert counts(instance, CHARGES, partitions)["failed"] == 0


def test_history_start_in_the_inventory_sets_where_the_partitions_start(
    emulator, home: Path, tmp_path: Path, stripe_key: None
) -> None:
    start = (datetime.now(UTC) - timedelta(days=3)).date()
    inventory = load_inventory(
        stripe_only(tmp_path, emulator.url, f"history_start: {start.isoformat()}\n"), vendors()
    )
    defs = build_definitions(inventory, home)
    partitions = daily_partitions(inventory, home)
    assert partitions.get_first_partition_key() == start.isoformat()
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("copy_stripe")
    assert job.execute_in_process(partition_key=today(), instance=instance).success
    assert record_history(defs, instance) == 2 * 3
    assert counts(instance, INVOICES, partitions) == {"materialized": 4, "failed": 0, "missing": 0}
