"""Finish a switch that stopped after its target opened: open the target everyone follows."""

from __future__ import annotations

from replication.errors import SwitchRefused
from replication.node import Node, Out, verify
from replication.probe import Health
from replication.report import SwitchReport, say_released
from replication.sessions import Sessions
from replication.topology import Topology


def interrupted_target(health: Health, to: str | None) -> str | None:
    """The server a switch left read-only with every other server following it, if any.

    That is what a rollback leaves when the target took writes and died: nobody accepts
    writes, the target replicates from no one, and every other server replicates from it.
    """
    if health.primary is not None:
        return None
    candidate = to or health.expected_primary
    if candidate is None or candidate not in health.servers:
        return None
    s = health.servers[candidate]
    if not s.reachable or s.replica is not None or s.read_only is not True:
        return None
    others = [h for name, h in health.servers.items() if name != candidate]
    if all(h.reachable and h.source == candidate for h in others):
        return candidate
    return None


def finish_interrupted(
    topology: Topology,
    health: Health,
    to: str | None,
    say: Out,
    report: SwitchReport,
    sessions: Sessions,
) -> bool:
    """Open the target of an interrupted switch when it is safe; False when there is none."""
    target = interrupted_target(health, to)
    if target is None:
        return False
    report.target = target
    problems = _problems(health, target)
    if problems:
        raise SwitchRefused(
            f"refusing to finish the switch to {target}: " + "; ".join(problems) + ". Repair "
            "that first (see `lifeboat ls`), then run this again."
        )
    nodes = {
        name: Node(topology.server(name), topology, health.servers[name].dialect)  # type: ignore[arg-type]
        for name in topology.names
    }
    new = nodes[target]
    others = [n for name, n in nodes.items() if name != target]
    try:
        if new.one(new.dialect.switch_lock())[0] != 1:
            raise SwitchRefused(
                f"refusing to switch: another switch holds the lock on {target}; wait for it."
            )
        say(f"EVERY SERVER FOLLOWS '{target}', WHICH ACCEPTS NO WRITES: A SWITCH TO IT STOPPED")
        if any(not node.read_only() for node in others):
            raise SwitchRefused(f"refusing to switch: a server besides {target} accepts writes")
        say(f"PUT THE NEW PRIMARY '{target}' ONLINE")
        new.allow_writes()
        say_released(sessions.release(new.server), target, say, report)
        verify(new, others)
        say(f"SWITCH TO '{target}' WAS SUCCESSFUL (finished the switch that stopped)")
    finally:
        for node in nodes.values():
            node.close()
    return True


def _problems(health: Health, target: str) -> list[str]:
    """Why opening `target` could lose or collide with a write on another server."""
    problems = []
    for name, s in health.servers.items():
        if name == target:
            continue
        replica = s.replica
        assert replica is not None
        if replica.last_io_error or replica.last_sql_error or not replica.running:
            error = replica.last_sql_error or replica.last_io_error or "not running yet"
            problems.append(f"{name} does not replicate from {target} ({error})")
        if s.errant:
            problems.append(f"{name} holds transactions {target} never had ({s.errant})")
    return problems
