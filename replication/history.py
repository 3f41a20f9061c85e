"""The record of every switch and failover: who, when, from, to, outcome, writes blocked."""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from replication.settings import HISTORY_DIR, HISTORY_FILE

ACTOR_ENV = "LIFEBOAT_ACTOR"


def history_path(home: Path) -> Path:
    return home / HISTORY_DIR / HISTORY_FILE


def actor() -> str:
    """Who is acting: LIFEBOAT_ACTOR (set by the Dagster job), else user@host."""
    named = os.environ.get(ACTOR_ENV)
    if named:
        return named
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass
class Event:
    """One switch or failover attempt; `outcome` is success, refused, rolled_back or failed."""

    kind: str
    source: str | None
    target: str | None
    outcome: str
    who: str = field(default_factory=actor)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str = ""
    blocked_ms: float | None = None
    # Where the blocked time went (block, end sessions, catch-up, open), in milliseconds.
    phases_ms: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    steps: list[str] = field(default_factory=list)
    lost: str = ""
    # Application sessions a connector moved to the new primary, and those it had to end.
    sessions_kept: int = 0
    sessions_ended: int = 0


class History:
    """An append-only JSON-lines file; each line is one Event."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, event: Event) -> None:
        event.finished_at = event.finished_at or datetime.now(UTC).isoformat()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(event), sort_keys=True) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        events = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                events.append(json.loads(line))
        return events

    def last(self, kind: str | None = None) -> dict[str, Any] | None:
        events = [e for e in self.read() if kind is None or e["kind"] == kind]
        return events[-1] if events else None
