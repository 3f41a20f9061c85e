"""Planned switch of the primary: check, block writes, drain, promote, repoint, verify."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymysql
import pymysql.cursors

from replication.dialect import Dialect, ReplicaStatus, Statement
from replication.errors import (
    ReplicationError,
    RollbackFailed,
    ServerUnreachable,
    SwitchFailed,
    SwitchRefused,
)
from replication.gtid import GtidState
from replication.history import Event, History
from replication.probe import Health, Kind, probe, write_heartbeat
from replication.settings import (
    PROTECTED_COMMANDS,
    PROTECTED_USERS,
    READ_MARGIN,
    VERIFY_TIMEOUT,
)
from replication.topology import Server, Topology, describe_error

Out = Callable[[str], None]
# Errors that mean a step failed and the switch must roll back.
STEP_ERRORS = (pymysql.MySQLError, ReplicationError, OSError)


class Node:
    """A server under the switch's control: one connection of the switch account."""

    def __init__(self, server: Server, topology: Topology, dialect: Dialect) -> None:
        self.server = server
        self.name = server.name
        self.topology = topology
        self.dialect = dialect
        self._conn: Any = None

    def conn(self) -> Any:
        if self._conn is None:
            config = self.topology.config
            wait = max(config.catch_up_timeout, VERIFY_TIMEOUT)
            self._conn = self.topology.connect(
                self.server, self.topology.switch, read_timeout=wait + READ_MARGIN
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def run(self, *statements: Statement) -> None:
        with self.conn().cursor() as cur:
            for statement in statements:
                try:
                    cur.execute(statement.sql, statement.params or None)
                except pymysql.MySQLError as exc:
                    raise SwitchStepError(
                        f"{self.name}: {statement.redacted()} failed: {describe_error(exc)}"
                    ) from None

    def one(self, statement: Statement) -> tuple[Any, ...]:
        with self.conn().cursor() as cur:
            try:
                cur.execute(statement.sql, statement.params or None)
            except pymysql.MySQLError as exc:
                raise SwitchStepError(f"{self.name}: {describe_error(exc)}") from None
            return cur.fetchone()

    def rows(self, statement: Statement) -> list[dict[str, Any]]:
        with self.conn().cursor(pymysql.cursors.DictCursor) as cur:
            try:
                cur.execute(statement.sql, statement.params or None)
            except pymysql.MySQLError as exc:
                raise SwitchStepError(f"{self.name}: {describe_error(exc)}") from None
            return list(cur.fetchall())

    def gtid(self) -> GtidState:
        return self.dialect.parse_gtid_state(self.one(self.dialect.gtid_state()))

    def read_only(self) -> bool:
        read_only, super_read_only = self.one(self.dialect.read_only)
        return bool(int(read_only)) or bool(int(super_read_only or 0))

    def replica_status(self) -> ReplicaStatus | None:
        rows = self.rows(self.dialect.replica_status)
        return self.dialect.parse_replica_status(rows[0] if rows else None)

    def wait_for(self, position: str, timeout: float) -> bool:
        if not position:
            return True
        return self.dialect.wait_succeeded(
            self.one(self.dialect.wait_for_gtid(position, timeout))[0]
        )

    def block_writes(self) -> None:
        self.run(*self.dialect.block_writes())

    def allow_writes(self) -> None:
        self.run(*self.dialect.allow_writes())

    def detach(self) -> None:
        """Stop replicating and forget the source: the server becomes a primary candidate."""
        self.run(self.dialect.stop_replica, self.dialect.reset_replica)

    def follow(self, source: Server, own_history: bool) -> None:
        """Replicate from `source` by GTID; `own_history` when this server was a primary."""
        account = self.topology.replication
        statements = [self.dialect.stop_replica]
        if own_history:
            statements += self.dialect.prepare_replica()
        statements += [
            self.dialect.change_source(source.host, source.port, account.user, account.password),
            self.dialect.start_replica,
        ]
        self.run(*statements)

    def app_sessions(self) -> list[dict[str, Any]]:
        """Sessions of applications: never replication, system or lifeboat's own threads."""
        protected_users = PROTECTED_USERS | {
            self.topology.replication.user,
            self.topology.switch.user,
        }
        return [
            row
            for row in self.rows(self.dialect.sessions)
            if row["user"] not in protected_users and row["command"] not in PROTECTED_COMMANDS
        ]

    def kill_app_sessions(self) -> int:
        killed = 0
        for row in self.app_sessions():
            statement = self.dialect.kill(row["id"])
            with contextlib.suppress(pymysql.MySQLError), self.conn().cursor() as cur:
                cur.execute(statement.sql, statement.params)
                killed += 1
        return killed


class SwitchStepError(ReplicationError):
    """One statement of a switch step failed."""


@dataclass
class SwitchReport:
    """What a switch or failover did, for the terminal, the Dagster log and the history."""

    kind: str
    source: str | None
    target: str | None
    outcome: str = "refused"
    blocked_ms: float | None = None
    reason: str = ""
    lines: list[str] = field(default_factory=list)
    lost: str = ""
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def _printer(report: SwitchReport, out: Out) -> Out:
    def say(line: str) -> None:
        report.lines.append(line)
        out(line)

    return say


def _replica_problems(name: str, health: Health, primary: str, as_target: bool = True) -> list[str]:
    """Why `name` cannot take over from `primary`, or (not `as_target`) cannot follow along."""
    s = health.servers[name]
    reasons = []
    if not s.reachable:
        return [f"{name} is unreachable"]
    if s.replica is None or s.source != primary:
        reasons.append(f"{name} does not replicate from {primary}")
    elif not s.replica.running or s.replica.last_io_error or s.replica.last_sql_error:
        error = s.replica.last_sql_error or s.replica.last_io_error
        reasons.append(
            f"{name} is not replicating (IO {s.replica.io_running}, SQL {s.replica.sql_running}"
            + (f": {error}" if error else "")
            + ")"
        )
    if s.errant:
        reasons.append(f"{name} holds errant transactions {s.errant} that {primary} never had")
    if not as_target:
        return reasons
    if s.heartbeat_applied is False or (
        s.heartbeat_lag is not None and s.heartbeat_lag > health.lag_threshold
    ):
        lag = (
            "the heartbeat did not arrive"
            if s.heartbeat_lag is None
            else (f"heartbeat lag {s.heartbeat_lag:.1f} s")
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
) -> SwitchReport:
    """Make `to` (or the best replica) the primary without losing a write, or roll back.

    Raises SwitchRefused before changing anything, SwitchFailed after a successful rollback,
    RollbackFailed when even the rollback could not finish (its message says what to do).
    """
    report = SwitchReport(kind="switch", source=None, target=to)
    try:
        health = health or probe(topology)
        primary, target = check(topology, health, to)
        report.source, report.target = primary, target
        _run(topology, health, primary, target, _printer(report, out), report)
        report.outcome = "success"
        return report
    except SwitchRefused as exc:
        report.outcome, report.reason = "refused", str(exc)
        raise
    except SwitchFailed as exc:
        report.outcome, report.reason = "rolled_back", str(exc)
        exc.report = report  # type: ignore[attr-defined]
        raise
    except RollbackFailed as exc:
        report.outcome, report.reason = "failed", str(exc)
        exc.report = report  # type: ignore[attr-defined]
        raise
    finally:
        if history is not None:
            history.record(
                Event(
                    kind="switch",
                    source=report.source,
                    target=report.target,
                    outcome=report.outcome,
                    blocked_ms=report.blocked_ms,
                    reason=report.reason,
                    steps=report.lines,
                    started_at=report.started_at,
                )
            )


@dataclass
class _Progress:
    blocked_at: float | None = None
    opened_at: float | None = None
    target_lost: bool = False
    target_detached: bool = False
    target_writable: bool = False
    source_following: bool = False
    repointed: list[str] = field(default_factory=list)


def _run(
    topology: Topology,
    health: Health,
    primary: str,
    target: str,
    say: Out,
    report: SwitchReport,
) -> None:
    nodes = {
        name: Node(topology.server(name), topology, health.servers[name].dialect)  # type: ignore[arg-type]
        for name in topology.names
    }
    old, new = nodes[primary], nodes[target]
    others = [nodes[n] for n in topology.names if n not in (primary, target)]
    progress = _Progress()
    try:
        for node in nodes.values():
            node.conn()
        # Held until this connection closes: two switches at once would fight over the servers.
        if old.one(old.dialect.switch_lock())[0] != 1:
            raise SwitchRefused(
                f"refusing to switch: another switch holds the lock on {primary}; "
                "wait for it to finish (see its output or `lifeboat ls`)."
            )
        long = _long_writes(old, topology.config.long_write_limit)
        if long:
            details = "; ".join(f"session {r[0]} open {r[1]} s ({r[2] or 'idle'})" for r in long)
            raise SwitchRefused(
                f"refusing to switch: a write on {primary} has run longer than "
                f"{topology.config.long_write_limit:g} s: {details}. Let it finish, or end it, "
                "then switch again."
            )
        _check_replication_account(topology, new.server)
        say(f"SELECTED REPLICA: {target}")
        try:
            say(f"PURGE REMAINING ACTIVE SESSIONS ON CURRENT PRIMARY '{primary}'")
            progress.blocked_at = time.perf_counter()
            old.block_writes()
            old.kill_app_sessions()
            say(f"FLUSH TRANSACTIONS ON CURRENT PRIMARY '{primary}'")
            final = old.gtid()
            timeout = topology.config.catch_up_timeout
            if not new.wait_for(final.executed, timeout):
                raise SwitchStepError(
                    f"{target} did not apply {primary}'s last transactions ({final.executed}) "
                    f"within {timeout:g} s"
                )
            say(f"PUT THE NEW PRIMARY '{target}' ONLINE")
            progress.target_detached = True
            new.detach()
            if not old.read_only():
                raise SwitchStepError(f"{primary} accepts writes again; not opening {target}")
            progress.target_writable = True
            new.allow_writes()
            progress.opened_at = time.perf_counter()
            report.blocked_ms = (time.perf_counter() - progress.blocked_at) * 1000
            say(f"PUT THE PRIOR PRIMARY '{primary}' ONLINE AS A REPLICA")
            progress.source_following = True
            old.follow(new.server, own_history=True)
            for node in others:
                say(f"RECONFIGURING REPLICA '{node.name}' TO POINT TO NEW PRIMARY '{target}'")
                progress.repointed.append(node.name)
                node.follow(new.server, own_history=False)
            _verify(new, [old, *others])
        except STEP_ERRORS as exc:
            reason = describe_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc)
            _rollback(nodes, primary, target, progress, reason, say, report)
            followup = (
                f" {target} went down after it was detached: when it is back it stays read-only "
                f"and replicates from no one; check `lifeboat ls` for errant transactions on it, "
                f"then point it at {primary} (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos)."
                if progress.target_lost
                else f" Check {target} with `lifeboat ls` before trying again."
            )
            raise SwitchFailed(
                f"switch to {target} failed and was rolled back: {reason}. {primary} is the "
                f"primary again and accepts writes.{followup}"
            ) from None
        say(f"SWITCH TO '{target}' WAS SUCCESSFUL (writes blocked {report.blocked_ms:.0f} ms)")
    except ServerUnreachable as exc:
        raise SwitchRefused(f"refusing to switch: {exc}") from None
    finally:
        for node in nodes.values():
            node.close()


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


def _verify(source: Node, replicas: list[Node]) -> None:
    """A heartbeat written on the new primary must reach every replica, which must run."""
    try:
        position = write_heartbeat(source.conn(), source.dialect)
    except pymysql.MySQLError as exc:
        raise SwitchStepError(
            f"{source.name}: could not write the heartbeat: {describe_error(exc)}"
        ) from None
    for node in replicas:
        if not node.wait_for(position, VERIFY_TIMEOUT):
            status = node.replica_status()
            error = (status.last_io_error or status.last_sql_error) if status else "no source"
            raise SwitchStepError(
                f"the heartbeat from {source.name} did not reach {node.name} within "
                f"{VERIFY_TIMEOUT:g} s ({error or 'no error reported'})"
            )


def _reconnect(node: Node, must_be_down: bool = False) -> Node | None:
    """The node with a fresh connection, or None when the server is down.

    With `must_be_down`, a server that cannot be reached for any other reason than refusing
    connections (a timeout, a network split) raises: it might still accept writes.
    """
    node.close()
    try:
        node.conn()
        return node
    except ServerUnreachable as exc:
        if must_be_down and not exc.refused:
            raise RollbackFailed(
                f"cannot tell whether {node.name} still accepts writes ({exc}); every other "
                f"server stays read-only so that there are never two primaries. Once you know "
                f"{node.name} is down or read-only, run `lifeboat ls` and open the right one."
            ) from None
        return None


def _rollback(
    nodes: dict[str, Node],
    primary: str,
    target: str,
    progress: _Progress,
    reason: str,
    say: Out,
    report: SwitchReport,
) -> None:
    """Make the old primary the only writable server again, every reachable replica its own."""
    say(f"SWITCH TO '{target}' FAILED: {reason}")
    say(f"ROLLING BACK TO PRIMARY '{primary}'")
    old = _reconnect(nodes[primary])
    new = _reconnect(nodes[target], must_be_down=progress.target_writable)
    if old is None:
        if progress.target_writable and new is not None:
            raise RollbackFailed(
                f"switch to {target} failed ({reason}) and {primary} became unreachable after "
                f"{target} took over: {target} stays the primary and accepts writes. Run "
                f"`lifeboat ls`; replicas still pointing at {primary} need repointing to {target}."
            )
        raise RollbackFailed(
            f"switch to {target} failed ({reason}) and {primary} is unreachable, so it cannot "
            f"be made the primary again; no server accepts writes. If {primary} is dead run "
            "`lifeboat failover`."
        )
    progress.target_lost = new is None and progress.target_detached
    try:
        if progress.target_writable:
            old.block_writes()
            if new is None:
                opened_ms = (
                    time.perf_counter() - (progress.opened_at or time.perf_counter())
                ) * 1000
                say(
                    f"'{target}' IS DOWN; WRITES IT TOOK IN THE {opened_ms:.0f} MS SINCE IT "
                    f"OPENED MAY NOT BE ON '{primary}'"
                )
            else:
                new.block_writes()
                _recover_from(old, new)
        if new is not None and (progress.target_detached or progress.target_writable):
            say(f"PUT '{target}' BACK AS A REPLICA OF '{primary}'")
        if old.replica_status() is not None:
            old.detach()
        old.allow_writes()
        if progress.blocked_at is not None:
            report.blocked_ms = (time.perf_counter() - progress.blocked_at) * 1000
        if new is not None and (progress.target_detached or progress.target_writable):
            new.follow(old.server, own_history=True)
        for name in progress.repointed:
            node = _reconnect(nodes[name])
            if node is not None:
                say(f"RECONFIGURING REPLICA '{name}' TO POINT TO PRIMARY '{primary}'")
                node.follow(old.server, own_history=False)
        reachable = [n for n in (_reconnect(nodes[name]) for name in nodes if name != primary) if n]
        _verify(old, reachable)
    except STEP_ERRORS as exc:
        detail = describe_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc)
        raise RollbackFailed(
            f"switch to {target} failed ({reason}) and its rollback failed too: {detail}. "
            f"Check every server with `lifeboat ls`; make sure only {primary} has "
            "read_only=OFF and that the others replicate from it."
        ) from None
    say(f"ROLLED BACK: '{primary}' IS THE PRIMARY (writes blocked {report.blocked_ms or 0:.0f} ms)")


def _recover_from(old: Node, new: Node) -> None:
    """Bring writes the new primary took back to the old one before it opens again."""
    have, extra = old.gtid(), new.gtid()
    if old.dialect.contains(have, extra):
        return
    old.follow(new.server, own_history=True)
    if not old.wait_for(extra.executed, VERIFY_TIMEOUT):
        raise SwitchStepError(
            f"{old.name} could not fetch the writes {new.name} took ({extra.executed}); "
            f"both stay read-only so nothing is lost"
        )
