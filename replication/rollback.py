"""Undo a switch that failed midway, without ever reopening a server that lacks a write."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pymysql

from replication.errors import RollbackFailed
from replication.node import STEP_ERRORS, Node, Out, SwitchStepError, reconnect, verify
from replication.report import SwitchReport
from replication.settings import VERIFY_TIMEOUT
from replication.topology import describe_error


@dataclass
class Progress:
    """How far a switch got: what its rollback must undo."""

    blocked_at: float | None = None
    opened_at: float | None = None
    # The target went down after it was detached, or at some point of the switch.
    target_lost: bool = False
    target_down: bool = False
    # Set once the target's STOP SLAVE / RESET SLAVE ALL returned.
    target_detached: bool = False
    # Set before the target is opened: from then on it may have taken writes.
    target_writable: bool = False
    source_following: bool = False
    repointed: list[str] = field(default_factory=list)
    done: bool = False
    # The connector's sessions were let go on the target as soon as it opened.
    released_to: str | None = None

    def blocked_ms(self) -> float | None:
        if self.blocked_at is None:
            return None
        return (time.perf_counter() - self.blocked_at) * 1000


def rollback(
    nodes: dict[str, Node],
    primary: str,
    target: str,
    progress: Progress,
    reason: str,
    say: Out,
    report: SwitchReport,
) -> None:
    """Make the old primary the only writable server again, every reachable replica its own.

    When the target took writes and is down, nothing reopens: RollbackFailed says what to do.
    """
    say(f"SWITCH TO '{target}' FAILED: {reason}")
    say(f"ROLLING BACK TO PRIMARY '{primary}'")
    old = reconnect(nodes[primary])
    new = reconnect(nodes[target], must_be_down=progress.target_writable)
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
    if progress.target_writable and new is None:
        _wait_for_target(nodes, old, nodes[target], progress, reason, say, report)
    progress.target_down = new is None
    progress.target_lost = new is None and progress.target_detached
    try:
        if progress.target_writable:
            assert new is not None
            old.block_writes()
            new.block_writes()
            _recover_from(old, new)
        if new is not None and (progress.target_detached or progress.target_writable):
            say(f"PUT '{target}' BACK AS A REPLICA OF '{primary}'")
        if old.replica_status() is not None:
            old.detach()
        old.allow_writes()
        report.blocked_ms = progress.blocked_ms()
        if new is not None and (progress.target_detached or progress.target_writable):
            new.follow(old.server, own_history=True)
        for name in progress.repointed:
            node = reconnect(nodes[name])
            if node is not None:
                say(f"RECONFIGURING REPLICA '{name}' TO POINT TO PRIMARY '{primary}'")
                node.follow(old.server, own_history=False)
        reachable = [n for n in (reconnect(nodes[name]) for name in nodes if name != primary) if n]
        verify(old, reachable)
    except STEP_ERRORS as exc:
        detail = describe_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc)
        raise RollbackFailed(
            f"switch to {target} failed ({reason}) and its rollback failed too: {detail}. "
            f"Check every server with `lifeboat ls`; make sure only {primary} has "
            "read_only=OFF and that the others replicate from it."
        ) from None
    say(f"ROLLED BACK: '{primary}' IS THE PRIMARY (writes blocked {report.blocked_ms or 0:.0f} ms)")


def _wait_for_target(
    nodes: dict[str, Node],
    old: Node,
    target: Node,
    progress: Progress,
    reason: str,
    say: Out,
    report: SwitchReport,
) -> None:
    """The target took writes and went down: only it has them, so every server waits for it.

    Each reachable server stays read-only and replicates from the target, so that once it is
    back they fetch its writes by themselves and `lifeboat switch --to <target>` opens it.
    """
    opened_ms = (time.perf_counter() - (progress.opened_at or time.perf_counter())) * 1000
    say(
        f"'{target.name}' IS DOWN AFTER IT OPENED FOR WRITES: WRITES IT TOOK IN THE "
        f"{opened_ms:.0f} MS SINCE EXIST ONLY ON IT, SO NO SERVER REOPENS WITHOUT THEM"
    )
    problems = []
    for name, node in nodes.items():
        if name == target.name:
            continue
        live = old if name == old.name else reconnect(node)
        if live is None:
            problems.append(f"{name} is unreachable (repoint it to {target.name} when back)")
            continue
        try:
            live.block_writes()
            say(f"RECONFIGURING '{name}' TO FOLLOW '{target.name}' ONCE IT IS BACK")
            live.follow(target.server, own_history=name == old.name)
        except STEP_ERRORS as exc:
            detail = describe_error(exc) if isinstance(exc, pymysql.MySQLError) else str(exc)
            problems.append(f"{name} could not be repointed: {detail}")
    report.blocked_ms = progress.blocked_ms()
    trouble = f" Also: {'; '.join(problems)}." if problems else ""
    raise RollbackFailed(
        f"switch to {target.name} failed ({reason}) after {target.name} opened for writes, "
        f"and {target.name} is down: writes it took exist only on it, so every server stays "
        f"read-only and follows {target.name}.{trouble} Once {target.name} is back (it starts "
        f"read-only), run `lifeboat switch --to {target.name}`: it opens {target.name}, which "
        f"holds every write. If {target.name} cannot come back, `lifeboat failover` promotes "
        f"another server and the writes {target.name} took are lost."
    )


def _recover_from(old: Node, new: Node) -> None:
    """Bring writes the new primary took back to the old one before it opens again."""
    have, extra = old.gtid(), new.gtid()
    if old.dialect.contains(have, extra):
        return
    old.follow(new.server, own_history=True)
    if not old.wait_for(extra.executed, VERIFY_TIMEOUT, source=new):
        raise SwitchStepError(
            f"{old.name} could not fetch the writes {new.name} took ({extra.executed}); "
            f"both stay read-only so nothing is lost"
        )
