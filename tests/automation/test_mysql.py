"""The MySQL sensor, switch and failover jobs against a real topology."""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from automation.mysql import (
    FAILOVER_CHECK_JOB,
    FAILOVER_JOB,
    SENSOR,
    STATE_TAG,
    SWITCH_JOB,
    replication_definitions,
    replication_resources,
)
from lifeboat.config import Inventory
from lifeboat.paths import DataHome
from replication.history import History, history_path
from replication.probe import Kind, probe
from replication.sandbox import Sandbox
from replication.switch import switch
from replication.topology import load_config_file
from resources.alerts import AlertsResource
from resources.warehouse import WarehouseResource
from tests.replication.helpers import wait_replicated


def start(root: Path) -> Sandbox:
    sandbox = Sandbox(DataHome(root).sandbox_dir)
    sandbox.up()
    return sandbox


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def sandbox(data_dir: Path) -> Iterator[Sandbox]:
    """The demo's case: a sandbox under the data directory and no `mysql:` section."""
    sandbox = start(data_dir)
    yield sandbox
    sandbox.destroy()


@pytest.fixture
def healthy(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared topology with alpha as primary, before and after each test."""
    assert probe(sandbox.topology()).ok
    yield sandbox
    topology = sandbox.topology()
    if probe(topology).primary != "alpha":
        switch(topology, to="alpha", out=lambda _line: None)
    wait_replicated(sandbox, "alpha")
    assert probe(topology).findings == []


def definitions(inventory: Inventory, data_dir: Path) -> dg.Definitions:
    """The MySQL area as definitions.py merges it, with the resources it needs."""
    return dg.Definitions.merge(
        replication_definitions(inventory, data_dir),
        dg.Definitions(
            resources={
                **replication_resources(inventory, data_dir),
                "warehouse": WarehouseResource(home=str(data_dir)),
                "alerts": AlertsResource(home=str(data_dir)),
            }
        ),
    )


def evaluate(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult:
    """One evaluation of the health sensor, with real probes."""
    repository = defs.get_repository_def()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=repository, resources=defs.resources
    )
    result = repository.get_sensor_def(SENSOR)(context)
    assert isinstance(result, dg.SensorResult)
    return result


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    """The sensor's run requests and its new cursor."""
    result = evaluate(defs, instance, cursor)
    return list(result.run_requests or []), result.cursor


def jobs(requests: list[dg.RunRequest]) -> list[str | None]:
    return [r.job_name for r in requests]


def test_sensor_launches_failover_check_once_per_change_of_state(
    healthy: Sandbox, data_dir: Path
) -> None:
    defs = definitions(Inventory(), data_dir)
    instance = dg.DagsterInstance.ephemeral()
    sensor = defs.get_repository_def().get_sensor_def(SENSOR)
    assert sensor.minimum_interval_seconds == 30

    calm, cursor = tick(defs, instance, None)
    assert calm == []
    healthy.sql("gamma", "STOP SLAVE")
    try:
        turned_bad, cursor = tick(defs, instance, cursor)
        still_bad, cursor = tick(defs, instance, cursor)
        healthy.sql("beta", "STOP SLAVE")
        worse, cursor = tick(defs, instance, cursor)
    finally:
        healthy.sql("gamma", "START SLAVE")
        healthy.sql("beta", "START SLAVE")
    wait_replicated(healthy, "alpha")
    recovered, cursor = tick(defs, instance, cursor)
    calm_again, cursor = tick(defs, instance, cursor)

    assert jobs(turned_bad) == [FAILOVER_CHECK_JOB]
    assert turned_bad[0].tags[STATE_TAG] == "replication_stopped:gamma"
    assert still_bad == []
    assert jobs(worse) == [FAILOVER_CHECK_JOB]
    assert worse[0].tags[STATE_TAG] == "replication_stopped:beta, replication_stopped:gamma"
    assert jobs(recovered) == [FAILOVER_CHECK_JOB]
    assert recovered[0].tags[STATE_TAG] == "healthy"
    assert calm_again == []
    assert json.loads(cursor or "{}")["state"] == "healthy"
    # A person hears of each change once: gamma stopped, beta too, then healthy again.
    sent = [
        json.loads(line) for line in (data_dir / "alerts" / "alerts.jsonl").read_text().splitlines()
    ]
    assert [a["kind"] for a in sent] == ["topology", "topology", "recovered"]
    assert "replication_stopped on gamma" in sent[0]["message"]
    assert "replication_stopped on beta" in sent[1]["message"]

    # What the sensor launches records the health and the readiness report.
    run = defs.resolve_job_def(FAILOVER_CHECK_JOB).execute_in_process(
        instance=instance, tags=recovered[0].tags
    )
    assert run.success
    materialized = {e.asset_key for e in run.get_asset_materialization_events()}
    assert materialized == {
        dg.AssetKey(["mysql", "replica_health"]),
        dg.AssetKey(["mysql", "failover_readiness"]),
    }
    assert all(e.passed for e in run.get_asset_check_evaluations())
    assert len(run.get_asset_check_evaluations()) == len(Kind.ALL) + 1  # + the connector check


def test_sensor_checks_again_when_a_switch_moves_the_primary(
    healthy: Sandbox, data_dir: Path
) -> None:
    """A switch leaves the topology healthy but the primary elsewhere: what Dagster shows
    (the primary, where the connectors send writes) must follow, without an alert."""
    defs = definitions(Inventory(), data_dir)
    instance = dg.DagsterInstance.ephemeral()
    alerts = data_dir / "alerts" / "alerts.jsonl"
    sent_before = len(alerts.read_text().splitlines()) if alerts.exists() else 0
    calm, cursor = tick(defs, instance, None)
    assert calm == []
    switch(healthy.topology(), to="beta", out=lambda _: None)
    try:
        wait_replicated(healthy, "beta")
        moved, cursor = tick(defs, instance, cursor)
        calm_again, cursor = tick(defs, instance, cursor)
    finally:
        switch(healthy.topology(), to="alpha", out=lambda _: None)
        wait_replicated(healthy, "alpha")
    assert jobs(moved) == [FAILOVER_CHECK_JOB]
    assert moved[0].tags[STATE_TAG] == "healthy"
    assert calm_again == []
    assert json.loads(cursor or "{}")["primary"] == "beta"
    sent_after = len(alerts.read_text().splitlines()) if alerts.exists() else 0
    assert sent_after == sent_before  # a switch a person made is no alert


def test_sensor_skips_with_a_reason_when_there_is_no_topology(tmp_path: Path) -> None:
    result = evaluate(definitions(Inventory(), tmp_path), dg.DagsterInstance.ephemeral(), None)

    assert not result.run_requests
    assert result.skip_reason is not None
    assert "lifeboat sandbox up" in (result.skip_reason.skip_message or "")


def test_switch_job_switches_to_beta_and_back_and_records_the_run(
    healthy: Sandbox, data_dir: Path
) -> None:
    defs = definitions(Inventory(), data_dir)
    job = defs.resolve_job_def(SWITCH_JOB)
    instance = dg.DagsterInstance.ephemeral()
    history = History(history_path(data_dir))
    before = len(history.read())

    there = job.execute_in_process(
        instance=instance, run_config={"ops": {"switch_primary": {"config": {"to": "beta"}}}}
    )
    on_beta = probe(healthy.topology())
    back = job.execute_in_process(instance=instance)
    on_alpha = probe(healthy.topology())
    refused = job.execute_in_process(
        instance=instance,
        run_config={"ops": {"switch_primary": {"config": {"to": "alpha"}}}},
        raise_on_error=False,
    )

    assert there.success and back.success
    assert (on_beta.primary, on_beta.findings) == ("beta", [])
    assert (on_alpha.primary, on_alpha.findings) == ("alpha", [])
    events = history.read()[before:]
    assert [(e["who"], e["source"], e["target"], e["outcome"]) for e in events] == [
        (f"dagster run {there.run_id}", "alpha", "beta", "success"),
        (f"dagster run {back.run_id}", "beta", "alpha", "success"),
        (f"dagster run {refused.run_id}", None, "alpha", "refused"),
    ]
    assert events[0]["blocked_ms"] is not None
    assert "SWITCH TO 'beta' WAS SUCCESSFUL" in events[0]["steps"][-1]
    logs = [entry.user_message for entry in instance.all_logs(there.run_id)]
    assert "PUT THE NEW PRIMARY 'beta' ONLINE" in logs
    [failure] = [e for e in refused.all_events if e.is_step_failure]
    assert failure.step_failure_data is not None
    message = failure.step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert message == "Nothing was changed. refusing to switch: alpha is already the primary"


def test_dead_primary_fails_over_automatically_once_per_quiet_period_when_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = start(tmp_path)
    try:
        for name, value in sandbox.credentials().items():
            monkeypatch.setenv(name, value)
        config = load_config_file(sandbox.topology_file)
        manual = definitions(Inventory(mysql=config), tmp_path)
        automatic = definitions(
            Inventory(mysql=config.model_copy(update={"automatic_failover": True})), tmp_path
        )
        instance = dg.DagsterInstance.ephemeral()
        sandbox.kill_server("alpha")

        off, _ = tick(manual, instance, None)
        first, cursor = tick(automatic, instance, None)
        again, cursor = tick(automatic, instance, cursor)
        [request] = [r for r in first if r.job_name == FAILOVER_JOB]
        run = automatic.resolve_job_def(FAILOVER_JOB).execute_in_process(
            instance=instance, run_config=request.run_config, tags=request.tags
        )
        after = probe(sandbox.topology())
        settled, cursor = tick(automatic, instance, cursor)
    finally:
        sandbox.destroy()

    assert jobs(off) == [FAILOVER_CHECK_JOB]
    assert jobs(first) == [FAILOVER_CHECK_JOB, FAILOVER_JOB]
    assert request.run_config == {"ops": {"failover_primary": {"config": {"yes": True}}}}
    assert again == []
    assert run.success
    assert after.primary == "beta"
    assert after.servers["gamma"].source == "beta"
    [event] = History(history_path(tmp_path)).read()
    assert (event["who"], event["kind"], event["source"], event["target"], event["outcome"]) == (
        f"dagster run {run.run_id}",
        "failover",
        "alpha",
        "beta",
        "success",
    )
    # The new state (alpha still down, beta primary) is reported, and nothing fails over again.
    assert jobs(settled) == [FAILOVER_CHECK_JOB]
