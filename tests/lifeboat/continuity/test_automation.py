"""The bad-day kit rebuilds itself when a copy lands or fails, or the topology changes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from assets.continuity import (
    AUTOMATION_SENSOR,
    CONTACTS_KEY,
    OPEN_WORK_KEY,
    REPORT_JOB,
    REPORT_KEY,
    VENDOR_STATUS_KEY,
)
from assets.mysql import HEALTH_KEY, READINESS_KEY
from automation.copies import today
from definitions import build_definitions
from emulators.control import EmulatorControl
from lifeboat.config import load_inventory
from pipelines.registry import vendors
from tests.inventories import stripe_only
from tests.keys import STRIPE_KEY

# The tag a materialization carries its data version in (what MaterializeResult writes).
DATA_VERSION_TAG = "dagster/data_version"
KIT = {CONTACTS_KEY, OPEN_WORK_KEY, VENDOR_STATUS_KEY, REPORT_KEY}


class Daemon:
    """What the automation sensor does on each tick: evaluate, then run what it requests."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs = defs
        self.instance = instance
        self.cursor = None

    def tick(self) -> set[dg.AssetKey]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs,
            instance=self.instance,
            asset_selection=dg.AssetSelection.groups("continuity"),
            cursor=self.cursor,
        )
        self.cursor = result.cursor
        requested = {key for key in KIT if result.get_num_requested(key)}
        if requested:
            job = self.defs.resolve_job_def(REPORT_JOB)
            run = job.execute_in_process(instance=self.instance, asset_selection=list(requested))
            assert run.success
        return requested


def topology(instance: dg.DagsterInstance, state: str) -> None:
    """A health probe recorded with the topology state it found (as the asset records it)."""
    for key in (HEALTH_KEY, READINESS_KEY):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(key, tags={DATA_VERSION_TAG: state})
        )


def test_the_kit_rebuilds_after_a_copy_a_failed_copy_and_a_topology_change(
    emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFEBOAT_TEST_STRIPE_KEY", STRIPE_KEY)
    defs = build_definitions(load_inventory(stripe_only(tmp_path, emulator.url), vendors()), home)
    sensor = defs.resolve_sensor_def(AUTOMATION_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    instance = dg.DagsterInstance.ephemeral()
    daemon = Daemon(defs, instance)
    assert daemon.tick() == set()  # nothing copied yet: nothing to build from

    copy = defs.resolve_job_def("copy_stripe")
    assert copy.execute_in_process(partition_key=today(), instance=instance).success
    assert daemon.tick() == KIT
    assert daemon.tick() == set()

    # A lockout changes no table, but belongs in vendor status and the report.
    EmulatorControl(emulator.url).fault("stripe", "lockout")
    assert not copy.execute_in_process(
        partition_key=today(), instance=instance, raise_on_error=False
    ).success
    assert daemon.tick() >= {VENDOR_STATUS_KEY, REPORT_KEY}
    assert daemon.tick() == set()

    # The topology probed every minute: the report rebuilds when its state changes only.
    topology(instance, "alpha primary, all well")
    assert daemon.tick() == {REPORT_KEY}
    topology(instance, "alpha primary, all well")
    assert daemon.tick() == set()
    topology(instance, "beta primary, alpha gone")
    assert daemon.tick() == {REPORT_KEY}
