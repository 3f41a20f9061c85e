"""Freshness checks, restore drills and alert sensors, on real runs against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.saas import saas_assets
from automation.copies import today
from automation.safety import (
    check_staleness,
    failed_vendors,
    safety,
    safety_resources,
    stale_cause,
    with_freshness,
)
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.alerts import Alerter, History
from lifeboat.config import Inventory, load_inventory
from lifeboat.errors import VendorLockout, VendorOutage
from lifeboat.outcomes import to_metadata
from lifeboat.status import copy_status
from pipelines.base import VendorContext
from pipelines.registry import vendors
from pipelines.runner import snapshot_dir, sync
from tests.keys import STRIPE_KEY
from tests.lifeboat.test_alerts import WebhookReceiver

SCALE = {"stripe.customers": 40, "stripe.charges": 150, "stripe.invoices": 30}
STRIPE_DATASETS = {"customers", "charges", "invoices", "subscriptions"}


def inventory_for(tmp_path: Path, url: str) -> Inventory:
    path = tmp_path / "lifeboat.yaml"
    path.write_text(
        "vendors:\n"
        "  stripe:\n"
        f"    base_url: {url}/stripe\n"
        "    credentials: {api_key: SAFETY_TEST_STRIPE_KEY}\n"
        "    rpo: 1h\n"
        "    datasets: {charges: {rpo: 30m}}\n"
        "alerts:\n"
        "  webhook: {url_env: SAFETY_TEST_WEBHOOK}\n"
    )
    return load_inventory(path, vendors())


def definitions_for(inventory: Inventory, home: Path) -> dg.Definitions:
    defs = build_definitions(inventory, home)
    if any(s.name == "stale_backup_sensor" for s in defs.sensors or []):
        return defs  # already wired into definitions.py
    return dg.Definitions.merge(
        defs,
        safety(inventory, home),
        dg.Definitions(resources=safety_resources(inventory, home)),
    )


class Scene:
    """An emulator, a webhook receiver, a temporary Dagster instance and lifeboat's defs."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        control: EmulatorControl,
        hook: WebhookReceiver,
    ) -> None:
        self.defs = defs
        self.instance = instance
        self.control = control
        self.hook = hook
        self.cursors: dict[str, str | None] = {}

    def copy(self) -> dg.ExecuteInProcessResult:
        return self.defs.resolve_job_def("copy_stripe").execute_in_process(
            partition_key=today(), instance=self.instance, raise_on_error=False
        )

    def tick(self, name: str) -> None:
        sensor = self.defs.resolve_sensor_def(name)
        context = dg.build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            cursor=self.cursors.get(name),
            resources=self.defs.resources,
        )
        result = sensor.evaluate_tick(context)
        self.cursors[name] = result.cursor


@pytest.fixture
def scene(
    make_emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    server = make_emulator(SCALE)
    monkeypatch.setenv("SAFETY_TEST_STRIPE_KEY", STRIPE_KEY)
    with WebhookReceiver() as hook, dg.instance_for_test() as instance:
        monkeypatch.setenv("SAFETY_TEST_WEBHOOK", hook.url)
        defs = definitions_for(inventory_for(tmp_path, server.url), home)
        scene = Scene(defs, instance, EmulatorControl(server.url), hook)
        # Run-status sensors start from "now": the first tick only places the cursor.
        for name in ("copy_failure_sensor", "copy_success_sensor"):
            scene.tick(name)
        yield scene


def test_every_dataset_has_a_restore_drill_and_a_freshness_policy_from_its_rpo(
    home: Path, tmp_path: Path
) -> None:
    inventory = inventory_for(tmp_path, "http://127.0.0.1:9")
    defs = definitions_for(inventory, home)
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.path[-1], key.name) for key in graph.asset_check_keys}
    assert {(dataset, "restore_drill") for dataset in STRIPE_DATASETS} <= checks
    assert {"stale_backup_sensor", "copy_failure_sensor", "copy_success_sensor"} <= {
        sensor.name for sensor in defs.sensors
    }
    windows = {
        spec.key.path[-1]: spec.freshness_policy.fail_window.to_timedelta()
        for asset in with_freshness(saas_assets(inventory, home), inventory)
        for spec in asset.specs
    }
    assert windows == {
        "customers": timedelta(hours=1),
        "charges": timedelta(minutes=30),
        "invoices": timedelta(hours=1),
        "subscriptions": timedelta(hours=1),
    }


def test_restore_drill_runs_daily_apart_from_the_copies_and_passes(scene: Scene) -> None:
    copied = scene.copy()
    assert copied.success
    assert copied.get_asset_check_evaluations() == []  # copies stay cheap: no drill in them
    schedule = scene.defs.get_schedule_def("restore_drills_daily")
    assert schedule.job_name == "restore_drills" and schedule.cron_schedule == "30 4 * * *"

    result = scene.defs.resolve_job_def("restore_drills").execute_in_process(
        instance=scene.instance
    )
    assert result.success
    drills = {
        e.asset_key.path[-1]: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "restore_drill"
    }
    assert set(drills) == STRIPE_DATASETS
    assert all(e.passed for e in drills.values())
    assert drills["charges"].metadata["live_rows"].value >= 150
    # Each dataset's check speaks of that dataset alone, with its own row count.
    for dataset, evaluation in drills.items():
        rows = evaluation.metadata["restored_rows"].value
        assert evaluation.description == (
            f"Stripe {dataset}: {rows:,} rows restored from its snapshot; "
            "count and checksum match the live copy"
        )


def test_a_run_that_copies_with_the_checks_selected_skips_the_drill(scene: Scene) -> None:
    # As a backfill launched from the UI does: the assets and every check on them.
    charges = dg.AssetKey(["stripe", "charges"])
    job = scene.defs.resolve_implicit_job_def_def_for_assets([charges])
    result = job.execute_in_process(
        instance=scene.instance,
        asset_selection=[charges],
        partition_key=today(),
    )
    assert result.success
    # The drill's step was part of the run, and restored nothing.
    assert "stripe_restore_drill" in [e.step_key for e in result.get_step_success_events()]
    assert result.get_asset_check_evaluations() == []
    assert [m.asset_key for m in result.get_asset_materialization_events()] == [charges]


def test_a_lockout_sends_one_alert_then_one_recovery(scene: Scene) -> None:
    assert scene.copy().success
    scene.tick("copy_success_sensor")
    assert scene.hook.posts == []  # all fine from the start: nothing to say

    scene.control.fault("stripe", "lockout")
    assert not scene.copy().success
    scene.tick("copy_failure_sensor")
    assert len(scene.hook.texts) == 1
    text = scene.hook.texts[0]
    assert text.startswith("[lifeboat] Stripe: locked out\nStripe rejected the API key (401)")
    assert "your copy of" in text and "is intact" in text
    assert "SAFETY_TEST_STRIPE_KEY" in text
    assert STRIPE_KEY not in text

    # Still locked out on the next scheduled run: no second alert.
    assert not scene.copy().success
    scene.tick("copy_failure_sensor")
    assert len(scene.hook.texts) == 1

    scene.control.clear_faults("stripe")
    assert scene.copy().success
    scene.tick("copy_success_sensor")
    assert len(scene.hook.texts) == 2
    assert scene.hook.texts[1].startswith("[lifeboat] Stripe: recovered\n")
    assert "(it was locked out)" in scene.hook.texts[1]
    kinds = [row["kind"] for row in History(_home(scene) / "alerts" / "alerts.duckdb").rows()]
    assert kinds == ["locked_out", "recovered"]


def test_schema_drift_is_announced_once_and_the_run_succeeds(scene: Scene) -> None:
    assert scene.copy().success
    scene.control.advance(seconds=3600, changes={"stripe.charges": {"updated": 6}})
    scene.control.fault(
        "stripe", "drift", add={"risk_level": "normal"}, change={"amount": "12.50 USD"}, one_in=3
    )

    result = scene.copy()

    assert result.success  # the records that fit are copied; the rest wait in quarantine
    charges = next(
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["stripe", "charges"])
    ).materialization.metadata
    assert charges["new_columns"].value == "risk_level"
    assert charges["records_set_aside"].value > 0
    assert 'amount: expected int, got "12.50 USD"' in charges["set_aside_because"].value
    texts = [t for t in scene.hook.texts if "data changed shape" in t]
    # Every dataset that received records now carries the new field: one notice each.
    assert len([t for t in texts if "Stripe added 1 field" in t]) == len(STRIPE_DATASETS)
    added, aside = [t for t in texts if t.startswith("[lifeboat] Stripe charges:")]
    assert added.startswith("[lifeboat] Stripe charges: data changed shape\nStripe added 1 ")
    assert "risk_level (text)" in added
    assert 'amount should be a whole number but Stripe sent "12.50 USD"' in aside
    assert "_quarantine table of stripe.duckdb" in aside and "nothing was dropped" in aside

    # The same drift on the next run is old news: copied and set aside, not announced.
    scene.control.advance(seconds=3600, changes={"stripe.charges": {"updated": 6}})
    assert scene.copy().success
    assert len([t for t in scene.hook.texts if "data changed shape" in t]) == len(texts)


def _home(scene: Scene) -> Path:
    return Path(scene.defs.resources["warehouse"].home)


def _age_copy(home: Path, hours: float) -> None:
    """Make the copy look `hours` old, as if the clock had moved on since it was made."""
    path = snapshot_dir(home, "stripe") / "manifest.json"
    manifest = json.loads(path.read_text())
    then = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
    for entry in manifest["tables"].values():
        entry["copied_at"] = then
    path.write_text(json.dumps(manifest))


def test_stale_copy_alerts_once_with_its_cause_and_again_when_fresh(scene: Scene) -> None:
    home = _home(scene)
    assert scene.copy().success
    scene.tick("stale_backup_sensor")
    assert scene.hook.posts == []

    _age_copy(home, hours=2)
    scene.control.fault("stripe", "lockout")
    assert not scene.copy().success
    scene.tick("stale_backup_sensor")
    stale = [t for t in scene.hook.texts if "copy is stale" in t]
    assert len(stale) == len(STRIPE_DATASETS)
    charges = next(t for t in stale if "Stripe charges" in t.splitlines()[0])
    assert "is 2h old" in charges and "past the 30m allowed" in charges
    assert "because Stripe refused the credentials in the last copy run" in charges
    assert "Check the credentials in SAFETY_TEST_STRIPE_KEY" in charges

    # Still stale a tick later: nothing new.
    scene.tick("stale_backup_sensor")
    assert len(scene.hook.texts) == len(STRIPE_DATASETS)

    scene.control.clear_faults("stripe")
    assert scene.copy().success
    scene.tick("stale_backup_sensor")
    recovered = scene.hook.texts[len(STRIPE_DATASETS) :]
    assert len(recovered) == len(STRIPE_DATASETS)
    assert all("fresh again" in t and "(it was stale)" in t for t in recovered)


def test_a_copy_is_stale_as_soon_as_it_is_older_than_its_rpo(
    make_emulator, home: Path, tmp_path: Path
) -> None:
    """Charges allow 30 minutes, the other datasets an hour: a minute either side of each."""
    server = make_emulator(SCALE)
    inventory = inventory_for(tmp_path, server.url)
    sync(VendorContext("stripe", f"{server.url}/stripe", {"api_key": STRIPE_KEY}), home)
    copied = [status.copied_at for status in copy_status(home, inventory)]
    assert None not in copied
    oldest, newest = min(copied), max(copied)  # type: ignore[type-var]
    alerter = Alerter(home)

    def stale_at(now: datetime) -> dict[str | None, str]:
        with dg.instance_for_test() as instance:
            sent = check_staleness(instance, inventory, home, alerter, now=now)
        return {alert.dataset: alert.message for alert in sent if alert.kind == "stale"}

    assert stale_at(oldest + timedelta(minutes=29)) == {}
    charges = stale_at(newest + timedelta(minutes=31))
    assert set(charges) == {"charges"}
    assert "past the 30m allowed" in charges["charges"]
    assert stale_at(oldest + timedelta(minutes=59)) == {}  # charges: told once already
    assert set(stale_at(newest + timedelta(minutes=61))) == STRIPE_DATASETS - {"charges"}


def test_a_failure_the_asset_already_explained_keeps_its_kind() -> None:
    """When a copy asset raises dg.Failure with the plain message, the kind still comes through."""

    @dg.asset(key=["stripe", "charges"])
    def charges() -> None:
        try:
            raise VendorLockout("stripe", "Invalid API Key", status=401)
        except VendorLockout as exc:
            raise dg.Failure(
                description="Stripe rejected the API key (401): ...",
                metadata=to_metadata(exc),
            ) from exc

    job = dg.define_asset_job("copy_stripe", tags={"lifeboat/vendor": "stripe"})
    defs = dg.Definitions(assets=[charges], jobs=[job])
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("copy_stripe").execute_in_process(
            instance=instance, raise_on_error=False
        )
        found = failed_vendors(instance, instance.get_run_by_id(result.run_id))
    assert found["stripe"]["state"] == "locked_out"
    assert found["stripe"]["error"].status == 401


def test_a_failed_daily_step_in_the_all_vendors_job_is_the_vendors_failure() -> None:
    """`<vendor>_daily` steps are attributed like `<vendor>_copy` ones, with no vendor tag."""

    @dg.multi_asset(name="stripe_daily", specs=[dg.AssetSpec(["stripe", "charges"])])
    def daily() -> None:
        try:
            raise VendorOutage("stripe", "bad gateway", status=502)
        except VendorOutage as exc:
            raise dg.Failure(description="Stripe is down", metadata=to_metadata(exc)) from exc

    job = dg.define_asset_job("copy_all_vendors")
    defs = dg.Definitions(assets=[daily], jobs=[job])
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("copy_all_vendors").execute_in_process(
            instance=instance, raise_on_error=False
        )
        found = failed_vendors(instance, instance.get_run_by_id(result.run_id))
    assert set(found) == {"stripe"}
    assert found["stripe"]["state"] == "outage"
    assert (found["stripe"]["error"].status, found["stripe"]["error"].detail) == (
        502,
        "bad gateway",
    )


def test_with_no_run_at_all_the_cause_is_that_nothing_ran(home: Path) -> None:
    with dg.instance_for_test() as instance:
        assert stale_cause(instance, "stripe", Alerter(home)) == "not_run"
