"""Failover of a real topology whose primary was killed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.writer import Writer
from replication.errors import FailoverRefused
from replication.failover import automatic_failover_due, failover
from replication.history import History
from replication.probe import Kind, probe
from replication.readiness import readiness
from replication.sandbox import Sandbox
from tests.replication.helpers import rows_on, wait_replicated


def test_refuses_while_the_primary_is_alive(fresh: Sandbox) -> None:
    with pytest.raises(FailoverRefused, match=r"alpha is a writable primary and answers"):
        failover(fresh.topology(), yes=True)
    health = probe(fresh.topology())
    assert health.ok
    ready = readiness(fresh.topology(), health)
    assert (ready.action, ready.primary, ready.ready) == ("switch", "alpha", True)
    assert ready.candidate in {"beta", "gamma"}
    assert ready.why.startswith(f"{ready.candidate} is the most advanced healthy replica of alpha")


def test_failover_promotes_the_most_advanced_replica_and_says_what_could_be_lost(
    fresh: Sandbox, tmp_path: Path
) -> None:
    writer = Writer(fresh)
    writer.start()
    try:
        while len(writer.acked) < 100:
            assert writer.is_alive()
            writer.join(0.01)
    finally:
        writer.stop()
    wait_replicated(fresh, "alpha")
    # beta falls behind, so gamma (listed later) is the one to promote, and beta must get
    # the last write from gamma.
    fresh.sql("beta", "STOP SLAVE")
    fresh.sql("alpha", "INSERT INTO app.writes VALUES (1000000, 'alpha')")
    wait_position = fresh.sql("alpha", "SELECT @@global.gtid_binlog_pos")[0][0]
    assert fresh.sql("gamma", "SELECT MASTER_GTID_WAIT(%s, 30)", (wait_position,))[0][0] == 0
    fresh.kill_server("alpha")
    fresh.sql("beta", "START SLAVE")

    topology = fresh.topology()
    history = History(tmp_path / "history.jsonl")
    dead = probe(topology)
    ready = readiness(topology, dead)
    assert (ready.action, ready.primary, ready.candidate, ready.ready) == (
        "failover",
        "alpha",
        "gamma",
        True,
    )
    due, why = automatic_failover_due(topology.config, dead, history)
    assert (due, why) == (
        False,
        "automatic failover is off (mysql.automatic_failover in lifeboat.yaml)",
    )
    automatic = topology.config.model_copy(update={"automatic_failover": True})
    assert automatic_failover_due(automatic, dead, history) == (
        True,
        "primary alpha is down and no replica receives from it",
    )

    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(FailoverRefused, match="not confirmed"):
        failover(fresh.topology(), confirm=decline)
    assert asked[0].startswith(f"Promote gamma (at {wait_position}) to primary in place of alpha?")
    assert probe(fresh.topology()).primary is None

    lines: list[str] = []
    report = failover(fresh.topology(), yes=True, out=lines.append, history=history)

    assert (report.source, report.target, report.outcome) == ("alpha", "gamma", "success")
    assert "SELECTED REPLICA: gamma" in lines
    assert "FAILOVER TO 'gamma' WAS SUCCESSFUL" in lines
    assert lines[-1] == f"COULD BE LOST: {report.lost}"
    assert report.lost.startswith(f"transactions alpha committed after {wait_position} ")
    health = probe(fresh.topology())
    assert health.primary == "gamma"
    assert health.servers["beta"].source == "gamma"
    assert health.servers["beta"].heartbeat_applied is True
    assert {(f.kind, f.server) for f in health.findings} == {(Kind.UNREACHABLE, "alpha")}
    wait_replicated(fresh, "gamma", replicas=("beta",))
    for name in ("beta", "gamma"):
        assert set(writer.acked) | {1000000} <= rows_on(fresh, name)
    [event] = history.read()
    assert (event["kind"], event["source"], event["target"]) == ("failover", "alpha", "gamma")
    assert event["outcome"] == "success"
    assert event["lost"].startswith("transactions alpha committed after")
    due, why = automatic_failover_due(automatic, dead, history)
    assert not due and "within the quiet period" in why
