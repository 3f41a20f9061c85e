"""The MySQL health assets against a real topology: history in DuckDB, checks, readiness."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.mysql import (
    CONNECTOR_CHECK,
    HEALTH_KEY,
    HEALTH_TABLE,
    READINESS_KEY,
    failover_readiness,
    replica_health,
)
from automation.mysql import replication_resources
from lifeboat.config import Inventory
from lifeboat.paths import DataHome
from replication.connector.service import Connector
from replication.probe import Kind, probe
from replication.sandbox import Sandbox
from replication.topology import load_config_file
from resources.warehouse import WarehouseResource
from tests.replication.helpers import wait_replicated


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def sandbox(data_dir: Path) -> Iterator[Sandbox]:
    """The demo's case: a sandbox under the data directory and no `mysql:` section."""
    sandbox = Sandbox(DataHome(data_dir).sandbox_dir)
    sandbox.up()
    yield sandbox
    sandbox.destroy()


@pytest.fixture
def healthy(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared topology, healthy before and after each test that disturbs it."""
    assert probe(sandbox.topology()).ok
    yield sandbox
    wait_replicated(sandbox, "alpha")
    assert probe(sandbox.topology()).findings == []


def resources(inventory: Inventory, data_dir: Path) -> dict[str, object]:
    return {
        **replication_resources(inventory, data_dir),
        "warehouse": WarehouseResource(home=str(data_dir)),
    }


def materialize(
    data_dir: Path,
    inventory: Inventory | None = None,
    with_readiness: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    assets = [replica_health, failover_readiness] if with_readiness else [replica_health]
    result = dg.materialize(
        assets,
        resources=resources(inventory or Inventory(), data_dir),
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def failed(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckSeverity]:
    return {name: e.severity for name, e in checks(result).items() if not e.passed}


def metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, object]:
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def history(data_dir: Path) -> list[tuple[object, ...]]:
    database = data_dir / "warehouse" / "mysql.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(
            f"SELECT run_id, server, role, worst FROM {HEALTH_TABLE} ORDER BY probed_at, server"
        ).fetchall()


def test_health_history_grows_and_every_check_passes_when_healthy(
    healthy: Sandbox, data_dir: Path
) -> None:
    before = len(history(data_dir)) if (data_dir / "warehouse" / "mysql.duckdb").exists() else 0

    first = materialize(data_dir)
    second = materialize(data_dir)

    rows = history(data_dir)[before:]
    assert [(server, role, worst) for _, server, role, worst in rows] == [
        ("alpha", "primary", "OK"),
        ("beta", "replica", "OK"),
        ("gamma", "replica", "OK"),
    ] * 2
    assert [run for run, *_ in rows] == [first.run_id] * 3 + [second.run_id] * 3
    evaluations = checks(second)
    assert set(evaluations) == {*Kind.ALL, CONNECTOR_CHECK}
    assert all(e.passed for e in evaluations.values())
    shown = metadata(second, HEALTH_KEY)
    assert (shown["servers"], shown["primary"], shown["findings"]) == (3, "alpha", 0)
    assert shown["history_rows"] == before + 6
    assert 0 <= shown["worst_lag_s"] < 5


def test_the_health_asset_shows_the_running_connector_and_where_it_sends_writes(
    healthy: Sandbox, data_dir: Path
) -> None:
    quiet = checks(materialize(data_dir))[CONNECTOR_CHECK]
    assert quiet.passed and quiet.description is None
    connector = Connector(healthy.topology(), home=data_dir, writer_port=0, reader_port=0)
    connector.start()
    try:
        result = materialize(data_dir)
        shown = metadata(result, HEALTH_KEY)["connectors"]
        assert f"| 127.0.0.1:{connector.writer_port} | alpha |" in str(shown)
        assert checks(result)[CONNECTOR_CHECK].passed
        connector.primary = healthy.topology().server("beta")  # as if it missed a switch
        wrong = checks(materialize(data_dir))[CONNECTOR_CHECK]
        assert not wrong.passed
        assert "sends writes to beta, but the primary is alpha" in (wrong.description or "")
    finally:
        connector.stop()


def test_stopped_replica_fails_its_check_as_a_warning_and_blocks_a_switch(
    healthy: Sandbox, data_dir: Path
) -> None:
    healthy.sql("gamma", "STOP SLAVE")
    try:
        result = materialize(data_dir, with_readiness=True)
    finally:
        healthy.sql("gamma", "START SLAVE")

    assert failed(result) == {Kind.REPLICATION_STOPPED: dg.AssetCheckSeverity.WARN}
    assert "gamma" in (checks(result)[Kind.REPLICATION_STOPPED].description or "")
    assert history(data_dir)[-1][1:] == ("gamma", "replica", "WARN")
    readiness = metadata(result, READINESS_KEY)
    assert (readiness["action"], readiness["ready"], readiness["candidate"]) == (
        "switch",
        False,
        "none",
    )
    assert "gamma is not replicating" in str(readiness["blockers"])


def test_readiness_names_the_replica_a_switch_would_choose(
    healthy: Sandbox, data_dir: Path
) -> None:
    result = materialize(data_dir, with_readiness=True)

    readiness = metadata(result, READINESS_KEY)
    assert (readiness["action"], readiness["ready"], readiness["primary"]) == (
        "switch",
        True,
        "alpha",
    )
    assert readiness["candidate"] == "beta"
    assert "beta is the most advanced healthy replica of alpha" in str(readiness["why"])
    assert str(readiness["automatic_failover"]).startswith("not now: automatic failover is off")


def test_split_brain_fails_as_an_error(healthy: Sandbox, data_dir: Path) -> None:
    healthy.sql("beta", "SET GLOBAL read_only = OFF")
    try:
        result = materialize(data_dir)
    finally:
        healthy.sql("beta", "SET GLOBAL read_only = ON")

    assert failed(result)[Kind.SPLIT_BRAIN] == dg.AssetCheckSeverity.ERROR
    assert "alpha, beta" in (checks(result)[Kind.SPLIT_BRAIN].description or "")
    assert checks(result)[Kind.NO_WRITABLE_PRIMARY].passed
    assert metadata(result, HEALTH_KEY)["primary"] == "none"


def test_configured_topology_reads_accounts_from_env_and_never_shows_a_password(
    healthy: Sandbox, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = Inventory(mysql=load_config_file(healthy.topology_file))
    credentials = healthy.credentials()
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    # No sandbox files where the resource looks: only lifeboat.yaml and the environment count.
    elsewhere = data_dir / "configured"

    instance = dg.DagsterInstance.ephemeral()
    right = materialize(elsewhere, inventory, with_readiness=True, instance=instance)
    monkeypatch.setenv("LIFEBOAT_SANDBOX_MONITOR_PASSWORD", "not-the-password-8e1f")
    wrong = materialize(elsewhere, inventory, with_readiness=True, instance=instance)

    assert all(e.passed for e in checks(right).values())
    assert metadata(right, HEALTH_KEY)["primary"] == "alpha"
    assert failed(wrong) == {
        Kind.UNREACHABLE: dg.AssetCheckSeverity.ERROR,
        Kind.NO_WRITABLE_PRIMARY: dg.AssetCheckSeverity.ERROR,
    }
    assert "Access denied" in (checks(wrong)[Kind.UNREACHABLE].description or "")
    secrets = [v for k, v in credentials.items() if k.endswith("_PASSWORD")]
    secrets.append("not-the-password-8e1f")
    with duckdb.connect(str(elsewhere / "warehouse" / "mysql.duckdb"), read_only=True) as con:
        stored = str(con.execute(f"SELECT * FROM {HEALTH_TABLE}").fetchall())
    logs = [str(entry) for result in (right, wrong) for entry in instance.all_logs(result.run_id)]
    assert any("Access denied" in entry for entry in logs)
    shown = "\n".join(logs) + stored
    assert not [secret for secret in secrets if secret in shown]
