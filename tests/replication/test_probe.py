"""The health probe against a real topology: healthy, stopped, broken, lagging, split, errant."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from replication.probe import ERROR, WARN, Kind, probe
from replication.sandbox import Sandbox
from tests.replication.conftest import MakeSandbox
from tests.replication.helpers import tuned, wait_replicated


@pytest.fixture(scope="module")
def sandbox(make_sandbox: MakeSandbox) -> Iterator[Sandbox]:
    sandbox = make_sandbox()
    yield sandbox
    sandbox.destroy()


@pytest.fixture
def healthy(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared topology, checked healthy before and after each test that disturbs it."""
    assert probe(sandbox.topology()).ok
    yield sandbox
    assert probe(sandbox.topology()).findings == []


def test_healthy_topology_has_no_findings(healthy: Sandbox) -> None:
    health = probe(healthy.topology())

    assert health.findings == []
    assert health.primary == "alpha"
    assert [health.role(n) for n in ("alpha", "beta", "gamma")] == ["primary", "replica", "replica"]
    for name in ("beta", "gamma"):
        server = health.servers[name]
        assert server.source == "alpha"
        assert server.heartbeat_applied is True
        assert server.heartbeat_lag is not None
        assert server.heartbeat_lag < health.lag_threshold
        assert server.replica is not None and server.replica.running
        assert server.version.startswith("10.11")
    assert len(health.rows()) == 3
    assert {row["worst"] for row in health.rows()} == {"OK"}


def test_stopped_replica_is_reported(healthy: Sandbox) -> None:
    healthy.sql("gamma", "STOP SLAVE")
    try:
        health = probe(healthy.topology())
    finally:
        healthy.sql("gamma", "START SLAVE")

    [finding] = health.findings
    assert (finding.kind, finding.severity, finding.server) == (
        Kind.REPLICATION_STOPPED,
        WARN,
        "gamma",
    )
    assert "START SLAVE" in finding.message


def test_broken_replication_names_the_error(healthy: Sandbox) -> None:
    healthy.sql("alpha", "CREATE TABLE IF NOT EXISTS app.clash (id INT PRIMARY KEY)")
    wait_replicated(healthy, "alpha")
    # A row slipped into gamma outside replication makes alpha's next insert collide there.
    healthy.sql("gamma", "SET STATEMENT sql_log_bin = 0 FOR INSERT INTO app.clash VALUES (1)")
    healthy.sql("alpha", "INSERT INTO app.clash VALUES (1)")
    try:
        deadline = time.monotonic() + 30
        health = probe(healthy.topology())
        while not health.of_kind(Kind.REPLICATION_BROKEN) and time.monotonic() < deadline:
            time.sleep(0.05)
            health = probe(healthy.topology())
    finally:
        healthy.sql("gamma", "SET STATEMENT sql_log_bin = 0 FOR DELETE FROM app.clash")
        healthy.sql("gamma", "START SLAVE")
        wait_replicated(healthy, "alpha")

    broken = health.of_kind(Kind.REPLICATION_BROKEN)
    assert [(f.server, f.severity) for f in broken] == [("gamma", ERROR)]
    assert "Duplicate entry" in broken[0].message


def test_lagging_replica_is_found_by_heartbeat(healthy: Sandbox) -> None:
    healthy.sql("gamma", "STOP SLAVE")
    healthy.sql("gamma", "CHANGE MASTER TO MASTER_DELAY = 3600")
    healthy.sql("gamma", "START SLAVE")
    try:
        health = probe(tuned(healthy.topology(), lag_threshold=1.0))
    finally:
        healthy.sql("gamma", "STOP SLAVE")
        healthy.sql("gamma", "CHANGE MASTER TO MASTER_DELAY = 0")
        healthy.sql("gamma", "START SLAVE")
        wait_replicated(healthy, "alpha")

    [lag] = health.findings
    assert (lag.kind, lag.severity, lag.server) == (Kind.LAG, WARN, "gamma")
    assert "Seconds_Behind_Master" in lag.message
    assert health.servers["gamma"].heartbeat_applied is False
    assert health.servers["beta"].heartbeat_applied is True


def test_lag_with_stopped_sql_thread_is_measured_although_seconds_behind_is_null(
    healthy: Sandbox,
) -> None:
    topology = tuned(healthy.topology(), lag_threshold=1.0)
    assert probe(topology).ok
    healthy.sql("gamma", "STOP SLAVE SQL_THREAD")
    try:
        # Heartbeats keep arriving in gamma's relay log but are not applied.
        probe(topology)
        time.sleep(1.5)
        health = probe(topology)
    finally:
        healthy.sql("gamma", "START SLAVE")
        wait_replicated(healthy, "alpha")

    gamma = health.servers["gamma"]
    assert gamma.replica is not None and gamma.replica.seconds_behind is None
    assert gamma.heartbeat_lag is not None and gamma.heartbeat_lag > 1.0
    assert {(f.kind, f.server) for f in health.findings} == {
        (Kind.LAG, "gamma"),
        (Kind.REPLICATION_STOPPED, "gamma"),
    }


def test_split_brain_when_two_servers_accept_writes(healthy: Sandbox) -> None:
    healthy.sql("beta", "SET GLOBAL read_only = OFF")
    try:
        health = probe(healthy.topology())
    finally:
        healthy.sql("beta", "SET GLOBAL read_only = ON")

    [split] = health.of_kind(Kind.SPLIT_BRAIN)
    assert split.severity == ERROR
    assert "alpha, beta" in split.message
    assert health.primary is None
    assert health.servers["beta"].heartbeat_lag is None  # no heartbeat is written into a split


def test_replica_of_the_wrong_source(healthy: Sandbox) -> None:
    topology = healthy.topology()
    beta, alpha = topology.server("beta"), topology.server("alpha")
    repl = topology.replication

    def point_gamma_to(port: int) -> None:
        healthy.sql("gamma", "STOP SLAVE")
        healthy.sql(
            "gamma",
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %s, MASTER_USER = %s, "
            "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos",
            (port, repl.user, repl.password),
        )
        healthy.sql("gamma", "START SLAVE")

    point_gamma_to(beta.port)
    try:
        health = probe(topology)
    finally:
        point_gamma_to(alpha.port)
        wait_replicated(healthy, "alpha")

    [wrong] = health.of_kind(Kind.WRONG_SOURCE)
    assert (wrong.server, wrong.severity) == ("gamma", ERROR)
    assert "from beta, not from the primary alpha" in wrong.message


def test_errant_transaction_on_a_replica(fresh: Sandbox) -> None:
    fresh.sql("alpha", "CREATE TABLE app.orders (id INT PRIMARY KEY)")
    wait_replicated(fresh, "alpha")
    # root may write despite read_only: exactly how errant transactions happen in real life.
    fresh.sql("beta", "INSERT INTO app.orders VALUES (42)")
    errant_gtid = fresh.sql("beta", "SELECT @@global.gtid_binlog_pos")[0][0]

    health = probe(tuned(fresh.topology(), lag_threshold=1.0))

    [errant] = health.of_kind(Kind.ERRANT)
    assert (errant.server, errant.severity) == ("beta", ERROR)
    assert errant_gtid.startswith("0-2-")
    assert errant_gtid in errant.message
    assert health.servers["beta"].errant == errant_gtid
    assert health.servers["gamma"].errant == ""


def test_unreachable_primary_means_no_writable_primary(fresh: Sandbox) -> None:
    fresh.kill_server("alpha")

    health = probe(fresh.topology())

    kinds = {(f.kind, f.server) for f in health.findings}
    assert (Kind.UNREACHABLE, "alpha") in kinds
    assert (Kind.NO_WRITABLE_PRIMARY, "alpha") in kinds
    assert health.expected_primary == "alpha"
    assert all(f.severity == ERROR for f in health.findings if f.kind != Kind.LAG)
