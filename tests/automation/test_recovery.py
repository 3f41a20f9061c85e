"""After an outage, the recovery sensor backfills the missed days once, and says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from automation.copies import today
from automation.recovery import RANGE_END_TAG, RANGE_START_TAG
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.config import load_inventory
from lifeboat.names import RECOVERY_SENSOR
from pipelines.registry import vendors
from pipelines.runner import cursors, make_pipeline, warehouse_path
from tests.inventories import stripe_only
from tests.keys import STRIPE_KEY


def versions(home: Path) -> set[tuple]:
    """Each charge the copy holds, at the version it holds."""
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return set(con.execute("SELECT id, _changed_at FROM charges").fetchall())


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    repository = defs.get_repository_def()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=repository, resources=defs.resources
    )
    # As the daemon does: evaluate a tick (direct invocation hands resources as arguments).
    result = repository.get_sensor_def(RECOVERY_SENSOR).evaluate_tick(context)
    return list(result.run_requests or []), result.cursor


def test_missed_days_are_backfilled_once_when_the_vendor_answers_again(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFEBOAT_TEST_STRIPE_KEY", STRIPE_KEY)
    defs = build_definitions(load_inventory(stripe_only(tmp_path, emulator.url), vendors()), home)
    job = defs.resolve_job_def("copy_stripe")
    control = EmulatorControl(emulator.url)
    instance = dg.DagsterInstance.ephemeral()
    assert job.execute_in_process(partition_key=today(), instance=instance).success
    cursor_after_last_good_copy = cursors(make_pipeline("stripe", home))["charges"]

    # Stripe goes down: the copies of the two days before today fail.
    control.fault("stripe", "outage")
    now = datetime.now(UTC)
    down = [today(now - timedelta(days=2)), today(now - timedelta(days=1))]
    for day in down:
        assert not job.execute_in_process(
            partition_key=day, instance=instance, raise_on_error=False
        ).success

    still_down, cursor = tick(defs, instance, None)
    assert still_down == []

    control.clear_faults("stripe")
    requests, cursor = tick(defs, instance, cursor)
    assert len(requests) == 1
    request = requests[0]
    assert request.job_name == "copy_stripe"
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == tuple(down)
    assert set(request.asset_selection) == {
        dg.AssetKey(["stripe", "charges"]),
        dg.AssetKey(["stripe", "invoices"]),
    }
    alerts = (home / "alerts" / "alerts.jsonl").read_text().splitlines()
    catching_up = [json.loads(line) for line in alerts if '"catching_up"' in line]
    assert len(catching_up) == 1 and all(day in catching_up[0]["message"] for day in down)

    # The next tick does not launch it again.
    again, cursor = tick(defs, instance, cursor)
    assert again == []

    # Meanwhile Stripe changes charges outside the missed days: the regular copies take
    # those from the cursor; a backfill loads its window only.
    control.advance(seconds=3600, changes={"stripe.charges": {"updated": 20}})
    held = versions(home)
    backfill = job.execute_in_process(
        instance=instance, tags=request.tags, asset_selection=list(request.asset_selection)
    )
    assert backfill.success
    assert versions(home) == held
    done = instance.get_materialized_partitions(dg.AssetKey(["stripe", "charges"]))
    assert set(down) <= done
    # The backfill never moved the cursor the regular copies continue from.
    assert cursors(make_pipeline("stripe", home))["charges"] == cursor_after_last_good_copy
    nothing_left, _ = tick(defs, instance, None)
    assert nothing_left == []
