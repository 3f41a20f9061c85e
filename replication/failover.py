"""Failover from a dead primary to the most advanced healthy replica, saying what may be lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pymysql

from lifeboat.topology_config import MySQLConfig
from replication.errors import FailoverFailed, FailoverRefused, ReplicationError, ServerUnreachable
from replication.history import History
from replication.node import STEP_ERRORS, Node, Out, verify
from replication.probe import Health, probe
from replication.report import SwitchReport, printer, say_released
from replication.sessions import NoSessions, Sessions
from replication.settings import RELAY_APPLY_TIMEOUT
from replication.topology import Topology, describe_error

Confirm = Callable[[str], bool]


def dead_primary(health: Health) -> str:
    """The primary the replicas follow, when it is down and no replica still receives from it."""
    if health.primary is not None:
        raise FailoverRefused(
            f"refusing to fail over: {health.primary} is a writable primary and answers. "
            "Use `lifeboat switch` for a planned change."
        )
    dead = health.expected_primary
    if dead is None:
        raise FailoverRefused(
            "refusing to fail over: no replica says which server is its primary; "
            "look at `lifeboat ls` and repair replication by hand."
        )
    if health.servers[dead].reachable:
        raise FailoverRefused(
            f"refusing to fail over: {dead} answers but is read-only. If that is a mistake "
            f"set read_only=OFF on {dead}; for a planned change use `lifeboat switch`."
        )
    receiving = [
        name
        for name, s in health.servers.items()
        if s.reachable and s.source == dead and s.replica and s.replica.io_running == "Yes"
    ]
    if receiving:
        raise FailoverRefused(
            f"refusing to fail over: {', '.join(receiving)} still receive from {dead}, so it is "
            "alive for them (a network partition?). Check the network before promoting anyone."
        )
    return dead


def failover_candidates(health: Health, dead: str) -> list[str]:
    """Replicas of the dead primary that may take over: reachable, sound, able to serve."""
    return [
        name
        for name, s in health.servers.items()
        if s.reachable
        and s.source == dead
        and not s.errant
        and s.log_bin
        and s.log_replica_updates
        and not (s.replica and s.replica.last_sql_error)
    ]


def automatic_failover_due(
    config: MySQLConfig, health: Health, history: History, now: datetime | None = None
) -> tuple[bool, str]:
    """Whether the sensor may fail over by itself now, and why (or why not)."""
    if not config.automatic_failover:
        return False, "automatic failover is off (mysql.automatic_failover in lifeboat.yaml)"
    try:
        dead = dead_primary(health)
    except FailoverRefused as exc:
        return False, str(exc)
    if not failover_candidates(health, dead):
        return False, f"{dead} is down but no replica can take over"
    last = history.last("failover")
    if last is not None:
        when = datetime.fromisoformat(last["started_at"])
        quiet = timedelta(seconds=config.failover_quiet_period)
        if (now or datetime.now(UTC)) - when < quiet:
            return False, (
                f"the last failover ({last['source']} -> {last['target']}, {last['outcome']}) "
                f"started at {last['started_at']}, within the quiet period of "
                f"{config.failover_quiet_period:g} s; a person must decide"
            )
    return True, f"primary {dead} is down and no replica receives from it"


def failover(
    topology: Topology,
    yes: bool = False,
    confirm: Confirm | None = None,
    out: Out = print,
    history: History | None = None,
    sessions: Sessions | None = None,
) -> SwitchReport:
    """Promote the most advanced healthy replica after the primary died (asks unless `yes`)."""
    report = SwitchReport(kind="failover", source=None, target=None)
    say = printer(report, out)
    sessions = sessions or NoSessions()
    nodes: dict[str, Node] = {}
    try:
        health = probe(topology, heartbeat=False)
        dead = dead_primary(health)
        report.source = dead
        candidates = failover_candidates(health, dead)
        if not candidates:
            raise FailoverRefused(
                f"refusing to fail over: {dead} is down and no replica can take over "
                "(each is unreachable, broken, has errant transactions or no binlog). "
                "See `lifeboat ls`."
            )
        for name in candidates:
            server = health.servers[name]
            nodes[name] = Node(topology.server(name), topology, server.dialect)  # type: ignore[arg-type]
        say(f"PRIMARY '{dead}' IS DOWN; STOPPING RECEIVERS ON {', '.join(candidates)}")
        for node in nodes.values():
            node.run(node.dialect.stop_io_thread)
        for node in nodes.values():
            _wait_relay_applied(node)
        positions = {name: node.gtid() for name, node in nodes.items()}
        target = max(
            candidates,
            key=lambda n: (nodes[n].dialect.progress(positions[n]), -candidates.index(n)),
        )
        report.target = target
        position = positions[target].executed
        report.lost = (
            f"transactions {dead} committed after {position or 'nothing'} reached no replica "
            f"and are not on {target}; when {dead} is back compare its gtid_binlog_pos with "
            f"{position or 'an empty position'} and recover them by hand before it rejoins"
        )
        question = (
            f"Promote {target} (at {position or 'empty position'}) to primary in place of "
            f"{dead}? Any {report.lost}."
        )
        if not yes and not (confirm and confirm(question)):
            for node in nodes.values():
                node.run(node.dialect.start_replica)
            raise FailoverRefused("failover not confirmed; nothing was changed")
        say(f"SELECTED REPLICA: {target}")
        new = nodes[target]
        say(f"PUT THE NEW PRIMARY '{target}' ONLINE")
        new.detach()
        new.allow_writes()
        say_released(sessions.release(new.server), target, say, report)
        others = [node for name, node in nodes.items() if name != target]
        for node in others:
            say(f"RECONFIGURING REPLICA '{node.name}' TO POINT TO NEW PRIMARY '{target}'")
            node.follow(new.server, own_history=False)
        verify(new, others)
        say(f"FAILOVER TO '{target}' WAS SUCCESSFUL")
        say(f"COULD BE LOST: {report.lost}")
        report.outcome = "success"
        return report
    except FailoverRefused as exc:
        report.outcome, report.reason = "refused", str(exc)
        raise
    except ServerUnreachable as exc:
        report.outcome, report.reason = "failed", str(exc)
        raise FailoverFailed(f"failover stopped: {exc}. See `lifeboat ls`.") from None
    except STEP_ERRORS as exc:
        detail = describe_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc)
        report.outcome, report.reason = "failed", detail
        raise FailoverFailed(
            f"failover to {report.target or 'a replica'} stopped midway: {detail}. "
            "Run `lifeboat ls` to see each server's state, then fix the server named here."
        ) from None
    finally:
        for node in nodes.values():
            node.close()
        report.record(history)


def _wait_relay_applied(node: Node) -> None:
    """Wait until a replica has applied everything it had received from the dead primary."""
    deadline = time.monotonic() + RELAY_APPLY_TIMEOUT
    while True:
        status = node.replica_status()
        if status is None or status.relay_applied or status.sql_running != "Yes":
            return
        if time.monotonic() > deadline:
            raise ReplicationError(
                f"{node.name} did not apply its relay log within {RELAY_APPLY_TIMEOUT:g} s"
            )
        time.sleep(0.05)
