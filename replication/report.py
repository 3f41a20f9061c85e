"""What a switch or failover did, said as it happens and kept in the history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from replication.history import Event, History
from replication.node import Out
from replication.sessions import Held, Released

# The write block's phases, in the order they run.
PHASES = ("block", "end sessions", "catch-up", "open")


@dataclass
class SwitchReport:
    """What a switch or failover did, for the terminal, the Dagster log and the history."""

    kind: str
    source: str | None
    target: str | None
    outcome: str = "refused"
    blocked_ms: float | None = None
    # Where the blocked time went: milliseconds per phase of PHASES.
    phases_ms: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    lines: list[str] = field(default_factory=list)
    lost: str = ""
    sessions_kept: int = 0
    sessions_ended: int = 0
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def blocked_summary(self) -> str:
        """'writes blocked 23 ms: block 4, end sessions 2, catch-up 11, open 6'."""
        text = f"writes blocked {self.blocked_ms or 0:.0f} ms"
        if self.phases_ms:
            text += ": " + ", ".join(f"{k} {v:.0f}" for k, v in self.phases_ms.items())
        return text

    def record(self, history: History | None) -> None:
        if history is None:
            return
        history.record(
            Event(
                kind=self.kind,
                source=self.source,
                target=self.target,
                outcome=self.outcome,
                blocked_ms=self.blocked_ms,
                phases_ms=dict(self.phases_ms),
                reason=self.reason,
                steps=self.lines,
                lost=self.lost,
                sessions_kept=self.sessions_kept,
                sessions_ended=self.sessions_ended,
                started_at=self.started_at,
            )
        )


def printer(report: SwitchReport, out: Out) -> Out:
    def say(line: str) -> None:
        report.lines.append(line)
        out(line)

    return say


def say_held(held: Held, say: Out) -> None:
    if held.connectors > 0:
        say(
            f"HOLD APPLICATION SESSIONS AT TRANSACTION BOUNDARIES ({held.held} held; "
            f"{held.in_transaction} open transactions ended)"
        )


def say_released(released: Released, primary: str, say: Out, report: SwitchReport) -> None:
    report.sessions_kept, report.sessions_ended = released.kept, released.ended
    if released.connectors > 0:
        say(
            f"RELEASED APPLICATION SESSIONS TO '{primary}': {released.kept} kept, "
            f"{released.ended} ended"
        )
    if released.unreachable:
        say(
            f"CONNECTORS {', '.join(released.unreachable)} DID NOT ANSWER; THEY FIND "
            f"'{primary}' BY THEMSELVES WITHIN THEIR HOLD TIMEOUT"
        )
