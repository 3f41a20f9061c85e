"""What a switch or failover would do now: the replica it would choose, why, what blocks it."""

from __future__ import annotations

from dataclasses import dataclass, field

from replication.errors import FailoverRefused, SwitchRefused
from replication.failover import dead_primary, failover_candidates
from replication.probe import Health
from replication.switch import check
from replication.topology import Topology


@dataclass(frozen=True)
class Readiness:
    """The answer to "could we switch or fail over right now?" for a person and a report."""

    action: str
    primary: str | None
    candidate: str | None
    why: str
    blockers: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.candidate is not None and not self.blockers

    def __str__(self) -> str:
        if self.ready:
            return f"{self.action} ready: {self.why}"
        return f"{self.action} blocked: " + "; ".join(self.blockers)


def _describe(health: Health, name: str, primary: str) -> str:
    s = health.servers[name]
    position = s.gtid.executed if s.gtid else "?"
    lag = "" if s.heartbeat_lag is None else f", heartbeat lag {s.heartbeat_lag:.3f} s"
    return f"{name} is the most advanced healthy replica of {primary} (at {position}{lag})"


def readiness(topology: Topology, health: Health) -> Readiness:
    """A switch's readiness while the primary lives; a failover's when it is dead."""
    if health.primary is not None:
        try:
            primary, target = check(topology, health)
        except SwitchRefused as exc:
            return Readiness("switch", health.primary, None, "", [str(exc)])
        return Readiness("switch", primary, target, _describe(health, target, primary))
    try:
        dead = dead_primary(health)
    except FailoverRefused as exc:
        return Readiness("failover", health.expected_primary, None, "", [str(exc)])
    candidates = failover_candidates(health, dead)
    if not candidates:
        return Readiness(
            "failover", dead, None, "", [f"{dead} is down and no replica can take over"]
        )

    def progress(name: str) -> int:
        s = health.servers[name]
        return s.dialect.progress(s.gtid) if s.dialect and s.gtid else -1

    best = max(candidates, key=lambda n: (progress(n), -candidates.index(n)))
    return Readiness("failover", dead, best, _describe(health, best, dead))
