"""A day whose copy failed stays failed in the partitions, even once later copies succeed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.saas import daily_partitions
from automation.copies import today
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.config import load_inventory
from pipelines.registry import vendors
from tests.automation.test_history import CHARGES, counts, record_history, stripe_only
from tests.keys import STRIPE_KEY


def test_a_failed_day_stays_failed_after_the_next_regular_copy_until_a_backfill(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The regular copy after an outage holds that day's changes, but only a backfill of
    the day says so: the recovery sensor looks for the failed days to backfill."""
    monkeypatch.setenv("LIFEBOAT_TEST_STRIPE_KEY", STRIPE_KEY)
    inventory = load_inventory(stripe_only(tmp_path, emulator.url), vendors())
    instance = dg.DagsterInstance.ephemeral()
    job = build_definitions(inventory, home).resolve_job_def("copy_stripe")
    assert job.execute_in_process(partition_key=today(), instance=instance).success

    control = EmulatorControl(emulator.url)
    control.fault("stripe", "outage")
    yesterday = today(datetime.now(UTC) - timedelta(days=1))
    assert not job.execute_in_process(
        partition_key=yesterday, instance=instance, raise_on_error=False
    ).success
    control.clear_faults("stripe")
    # As Dagster reloads the code location: the partitions now start where the copy does.
    defs = build_definitions(inventory, home)
    job = defs.resolve_job_def("copy_stripe")
    assert job.execute_in_process(partition_key=today(), instance=instance).success

    record_history(defs, instance)
    partitions = daily_partitions(inventory, home)
    days = len(partitions.get_partition_keys())
    assert counts(instance, CHARGES, partitions) == {
        "materialized": days - 1,
        "failed": 1,
        "missing": 0,
    }
    assert job.execute_in_process(partition_key=yesterday, instance=instance).success
    assert counts(instance, CHARGES, partitions)["failed"] == 0
