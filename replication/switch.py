"""Planned switch of the primary: check, catch up, block writes, drain, promote, repoint, verify."""

from __future__ import annotations

import time
from typing import Any

import pymysql

from replication.errors import ServerUnreachable, SwitchFailed, SwitchRefused
from replication.history import History
from replication.node import STEP_ERRORS, Node, Out, SwitchStepError, verify
from replication.probe import Health, Kind, probe
from replication.report import SwitchReport, printer, say_held, say_released
from replication.resume import finish_interrupted
from replication.rollback import Progress, rollback
from replication.sessions import NoSessions, Sessions
from replication.switch_settings import CATCH_UP_CLOSE, RUNNING_WRITE_LIMIT
from replication.topology import Server, Topology, describe_error

__all__ = ["STEP_ERRORS", "Node", "SwitchReport", "check", "switch"]


def _replica_problems(name: str, health: Health, primary: str, as_target: bool = True) -> list[str]:
    """Why `name` cannot take over from `primary`, or (not `as_target`) cannot follow along."""
    s = health.servers[name]
    reasons = []
    not_running = False
    if not s.reachable:
        return [f"{name} is unreachable"]
    if s.replica is None or s.source != primary:
        reasons.append(f"{name} does not replicate from {primary}")
    elif not s.replica.running or s.replica.last_io_error or s.replica.last_sql_error:
        error = s.replica.last_sql_error or s.replica.last_io_error
        # The heartbeat's age says when it last applied one, not how far behind it is.
        last = (
            f"; the last heartbeat it applied was written {s.heartbeat_lag:.1f} s ago"
            if s.heartbeat_lag is not None
            else ""
        )
        reasons.append(
            f"{name} is not replicating (IO {s.replica.io_running}, SQL {s.replica.sql_running}"
            + (f": {error}" if error else "")
            + last
            + ")"
        )
        not_running = True
    if s.errant:
        reasons.append(f"{name} holds errant transactions {s.errant} that {primary} never had")
    if not as_target:
        return reasons
    if not not_running and (
        s.heartbeat_applied is False
        or (s.heartbeat_lag is not None and s.heartbeat_lag > health.lag_threshold)
    ):
        lag = (
            f"the heartbeat written now did not arrive within {health.lag_threshold:g} s"
            if s.heartbeat_applied is False
            else f"heartbeat lag {s.heartbeat_lag:.1f} s"
        )
        reasons.append(f"{name} lags beyond {health.lag_threshold:g} s ({lag})")
    if not (s.log_bin and s.log_replica_updates):
        reasons.append(f"{name} has log_bin or log_slave_updates OFF")
    return reasons


def check(topology: Topology, health: Health, to: str | None = None) -> tuple[str, str]:
    """The (primary, target) of a switch, or SwitchRefused saying what stands in the way."""
    unreachable = health.of_kind(Kind.UNREACHABLE)
    if unreachable:
        names = ", ".join(f.server or "?" for f in unreachable)
        hint = (
            " The primary is down: use `lifeboat failover`."
            if health.expected_primary in {f.server for f in unreachable}
            else " Bring it back or remove it from lifeboat.yaml first."
        )
        raise SwitchRefused(f"refusing to switch: {names} unreachable.{hint}")
    if health.of_kind(Kind.SPLIT_BRAIN):
        raise SwitchRefused("refusing to switch: " + health.of_kind(Kind.SPLIT_BRAIN)[0].message)
    primary = health.primary
    if primary is None:
        raise SwitchRefused(
            "refusing to switch: no writable primary. Use `lifeboat failover` if it is dead."
        )
    replicas = [n for n in topology.names if n != primary]
    if to is not None:
        topology.server(to)
        if to == primary:
            raise SwitchRefused(f"refusing to switch: {to} is already the primary")
        problems = _replica_problems(to, health, primary)
        if problems:
            raise SwitchRefused(f"refusing to switch to {to}: " + "; ".join(problems) + ".")
        target = to
    else:
        fit = [n for n in replicas if not _replica_problems(n, health, primary)]
        if not fit:
            reasons = "; ".join(p for n in replicas for p in _replica_problems(n, health, primary))
            raise SwitchRefused(f"refusing to switch: no replica can take over: {reasons}.")

        def rank(name: str) -> tuple[int, int]:
            # The most advanced; among equals the first in lifeboat.yaml's order.
            s = health.servers[name]
            assert s.dialect is not None and s.gtid is not None
            return (-s.dialect.progress(s.gtid), topology.names.index(name))

        target = min(fit, key=rank)
    others = [
        p
        for n in replicas
        if n != target
        for p in _replica_problems(n, health, primary, as_target=False)
    ]
    if others:
        raise SwitchRefused(
            "refusing to switch: " + "; ".join(others) + ". Repair it first so that it can "
            "follow the new primary."
        )
    return primary, target


def _long_writes(node: Node, limit: float) -> list[tuple[Any, ...]]:
    with node.conn().cursor() as cur:
        statement = node.dialect.long_writes(limit)
        cur.execute(statement.sql, statement.params)
        return list(cur.fetchall())


def switch(
    topology: Topology,
    to: str | None = None,
    out: Out = print,
    history: History | None = None,
    health: Health | None = None,
    sessions: Sessions | None = None,
) -> SwitchReport:
    """Make `to` (or the best replica) the primary without losing a write, or roll back.

    Raises SwitchRefused before changing anything, SwitchFailed after a successful rollback,
    RollbackFailed when even the rollback could not finish (its message says what to do).
    Any other exception (Ctrl-C) rolls back too, then goes on.
    """
    report = SwitchReport(kind="switch", source=None, target=to)
    sessions = sessions or NoSessions()
    say = printer(report, out)
    try:
        health = health or probe(topology)
        if finish_interrupted(topology, health, to, say, report, sessions):
            report.outcome = "success"
            return report
        primary, target = check(topology, health, to)
        report.source, report.target = primary, target
        _run(topology, health, primary, target, say, report, sessions)
        report.outcome = "success"
        return report
    except SwitchRefused as exc:
        report.outcome, report.reason = "refused", str(exc)
        raise
    except SwitchFailed as exc:
        report.outcome, report.reason = "rolled_back", str(exc)
        exc.report = report  # type: ignore[attr-defined]
        raise
    except BaseException as exc:
        # RollbackFailed, or an interruption after a successful rollback.
        report.outcome = "failed" if report.outcome != "rolled_back" else report.outcome
        report.reason = report.reason or str(exc) or type(exc).__name__
        exc.report = report  # type: ignore[attr-defined]
        raise
    finally:
        report.record(history)


def _run(
    topology: Topology,
    health: Health,
    primary: str,
    target: str,
    say: Out,
    report: SwitchReport,
    sessions: Sessions,
) -> None:
    nodes = {
        name: Node(topology.server(name), topology, health.servers[name].dialect)  # type: ignore[arg-type]
        for name in topology.names
    }
    old, new = nodes[primary], nodes[target]
    try:
        for node in nodes.values():
            node.conn()
        _refuse_unless_ready(topology, old, new)
        say(f"SELECTED REPLICA: {target}")
        _catch_up(old, new, topology.config.catch_up_timeout)
        _refuse_running_writes(old)
        say_held(sessions.hold(topology.config.connector.drain_limit), say)
        progress = Progress()
        try:
            _steps(topology, nodes, old, new, progress, say, report, sessions)
        finally:
            if progress.released_to is None:
                _release(sessions, nodes, new if progress.done else None, say, report)
        say(f"SWITCH TO '{target}' WAS SUCCESSFUL ({report.blocked_summary()})")
    except ServerUnreachable as exc:
        raise SwitchRefused(f"refusing to switch: {exc}") from None
    finally:
        for node in nodes.values():
            node.close()


def _refuse_unless_ready(topology: Topology, old: Node, new: Node) -> None:
    """The lock, then what the probe could not see: an open write, a wrong password."""
    # Held until this connection closes: two switches at once would fight over the servers.
    if old.one(old.dialect.switch_lock())[0] != 1:
        raise SwitchRefused(
            f"refusing to switch: another switch holds the lock on {old.name}; "
            "wait for it to finish (see its output or `lifeboat ls`)."
        )
    limit = topology.config.long_write_limit
    long = _long_writes(old, limit)
    if long:
        details = "; ".join(f"session {r[0]} open {r[1]} s ({r[2] or 'idle'})" for r in long)
        raise SwitchRefused(
            f"refusing to switch: a write on {old.name} has run longer than {limit:g} s: "
            f"{details}. Let it finish, or end it, then switch again."
        )
    _check_replication_account(topology, new.server)


def _catch_up(old: Node, new: Node, timeout: float) -> None:
    """Let the target catch up while writes still flow, so the block waits only for the last.

    Rounds of MASTER_GTID_WAIT on the primary's position until one is short; a target that
    never gets close (MASTER_DELAY, a slow applier) is refused: nothing has changed yet.
    """
    deadline = time.monotonic() + timeout
    while True:
        position = old.gtid().executed
        started = time.monotonic()
        left = deadline - started
        if left <= 0 or not new.wait_for(position, left, source=old):
            raise SwitchRefused(
                f"refusing to switch: {new.name} did not catch up with {old.name} within "
                f"{timeout:g} s (it applies more slowly than {old.name} writes, or has a "
                "MASTER_DELAY); nothing was changed. Switch when it keeps up."
            )
        if time.monotonic() - started < CATCH_UP_CLOSE:
            return


def _refuse_running_writes(old: Node) -> None:
    """read_only=ON waits for running write statements: refuse rather than freeze writes."""
    running = old.running_writes(RUNNING_WRITE_LIMIT)
    if running:
        details = "; ".join(
            f"session {session} ({user}) running for {seconds:.1f} s: {text[:120]}"
            for session, user, seconds, text in running
        )
        raise SwitchRefused(
            f"refusing to switch: a write statement on {old.name} has run longer than "
            f"{RUNNING_WRITE_LIMIT:g} s, and blocking writes would wait for it to end: "
            f"{details}. Let it finish, or end it (KILL <session>), then switch again."
        )


def _steps(
    topology: Topology,
    nodes: dict[str, Node],
    old: Node,
    new: Node,
    progress: Progress,
    say: Out,
    report: SwitchReport,
    sessions: Sessions,
) -> None:
    """The switch proper; any failure or interruption rolls back."""
    others = [n for n in nodes.values() if n not in (old, new)]
    drain_limit = topology.config.connector.drain_limit
    try:
        _block_and_open(topology, old, new, progress, say, report)
        # The target is the only writable server: the applications' sessions go on there now,
        # not after every replica follows it (a rollback holds them again first).
        say_released(sessions.release(new.server), new.name, say, report)
        progress.released_to = new.name
        say(f"PUT THE PRIOR PRIMARY '{old.name}' ONLINE AS A REPLICA")
        progress.source_following = True
        old.follow(new.server, own_history=True)
        for node in others:
            say(f"RECONFIGURING REPLICA '{node.name}' TO POINT TO NEW PRIMARY '{new.name}'")
            progress.repointed.append(node.name)
            node.follow(new.server, own_history=False)
        verify(new, [old, *others])
        progress.done = True
    except STEP_ERRORS as exc:
        reason = describe_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc)
        _hold_again(sessions, drain_limit, progress, say)
        rollback(nodes, old.name, new.name, progress, reason, say, report)
        raise SwitchFailed(
            f"switch to {new.name} failed and was rolled back: {reason}. {old.name} is the "
            f"primary again and accepts writes.{_followup(old.name, new.name, progress)}"
        ) from None
    except BaseException as exc:
        reason = f"interrupted ({type(exc).__name__})"
        _hold_again(sessions, drain_limit, progress, say)
        rollback(nodes, old.name, new.name, progress, reason, say, report)
        report.outcome, report.reason = "rolled_back", reason
        raise


def _block_and_open(
    topology: Topology, old: Node, new: Node, progress: Progress, say: Out, report: SwitchReport
) -> None:
    """Block writes on the old primary, end its sessions, catch up, open the target."""
    phases = report.phases_ms
    say(f"PURGE REMAINING ACTIVE SESSIONS ON CURRENT PRIMARY '{old.name}'")
    progress.blocked_at = mark = time.perf_counter()
    try:
        old.block_writes()
    except SwitchStepError as exc:
        raise SwitchStepError(
            f"{exc}: a write statement on {old.name} kept writes from being blocked "
            "(lock_wait_timeout); nothing else was changed"
        ) from None
    mark = _phase(phases, "block", mark)
    old.kill_app_sessions()
    mark = _phase(phases, "end sessions", mark)
    say(f"FLUSH TRANSACTIONS ON CURRENT PRIMARY '{old.name}'")
    final = old.gtid()
    timeout = topology.config.catch_up_timeout
    if not new.wait_for(final.executed, timeout, source=old):
        raise SwitchStepError(
            f"{new.name} did not apply {old.name}'s last transactions ({final.executed}) "
            f"within {timeout:g} s"
        )
    mark = _phase(phases, "catch-up", mark)
    say(f"PUT THE NEW PRIMARY '{new.name}' ONLINE")
    _still_blocked(old, new, final.executed)
    new.detach()
    progress.target_detached = True
    if not old.read_only():
        raise SwitchStepError(f"{old.name} accepts writes again; not opening {new.name}")
    _still_blocked(old, new, final.executed)
    progress.target_writable = True
    new.allow_writes()
    progress.opened_at = time.perf_counter()
    _phase(phases, "open", mark)
    report.blocked_ms = (progress.opened_at - progress.blocked_at) * 1000


def _still_blocked(old: Node, new: Node, final: str) -> None:
    """Nothing committed on the old primary since its last position was read.

    read_only stops neither sessions with READ_ONLY ADMIN (SUPER, root) nor a killed session
    that is still finishing its commit; a write of theirs would exist only on the old primary.
    """
    now = old.gtid().executed
    if now != final:
        raise SwitchStepError(
            f"{old.name} committed transactions after writes were blocked ({final} -> {now}): "
            "a session that read_only does not stop (READ_ONLY ADMIN or SUPER, e.g. root) "
            f"writes there; not opening {new.name}"
        )


def _phase(phases: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    phases[name] = (now - since) * 1000
    return now


def _followup(primary: str, target: str, progress: Progress) -> str:
    """What a person does about the target after a rollback, as far as we know its state."""
    if progress.target_lost:
        return (
            f" {target} went down after it was detached: when it is back it stays read-only "
            f"and replicates from no one; check `lifeboat ls` for errant transactions on it, "
            f"then point it at {primary} (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos)."
        )
    if progress.target_down:
        return (
            f" {target} went down before it took any write, while it was being detached: "
            f"when it is back it stays read-only; `lifeboat ls` shows whether it still "
            f"replicates from {primary}. If it replicates from no one, check it there for "
            f"errant transactions, then point it at {primary} (CHANGE MASTER TO ... "
            "MASTER_USE_GTID=slave_pos)."
        )
    return f" Check {target} with `lifeboat ls` before trying again."


def _hold_again(sessions: Sessions, drain_limit: float, progress: Progress, say: Out) -> None:
    """Sessions already let go on the target are held again before a rollback blocks it."""
    if progress.released_to is not None:
        say_held(sessions.hold(drain_limit), say)
        progress.released_to = None


def _release(
    sessions: Sessions, nodes: dict[str, Node], done: Node | None, say: Out, report: SwitchReport
) -> None:
    """Let held sessions go on, on the one server that accepts writes (if any)."""
    server = done.server if done is not None else _sole_writable(nodes)
    if server is not None:
        say_released(sessions.release(server), server.name, say, report)


def _sole_writable(nodes: dict[str, Node]) -> Server | None:
    writable = []
    for node in nodes.values():
        try:
            if not node.read_only():
                writable.append(node.server)
        except STEP_ERRORS:
            continue
    return writable[0] if len(writable) == 1 else None


def _check_replication_account(topology: Topology, target: Server) -> None:
    """Replicas will log in to the target with this account: a wrong password must stop us now."""
    try:
        topology.connect(target, topology.replication).close()
    except ServerUnreachable as exc:
        names = topology.config.replication
        raise SwitchRefused(
            f"refusing to switch: the replication account cannot log in to {target.name}, so "
            f"no replica could follow it ({exc}). Check {names.user_env} and "
            f"{names.password_env}."
        ) from None
