"""Application sessions a switch or failover moves: the lifeboat connector's, or none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from replication.topology import Server


@dataclass(frozen=True)
class Held:
    """Sessions paused at a transaction boundary before a switch blocks writes."""

    connectors: int = 0
    held: int = 0
    # Sessions whose transaction was still open when the drain limit ran out: the switch ends
    # that transaction (its session gets an error, the connection stays).
    in_transaction: int = 0


@dataclass(frozen=True)
class Released:
    """Sessions moved to the primary a switch or failover left in place."""

    connectors: int = 0
    kept: int = 0
    ended: int = 0
    # Connectors that did not answer: they find the primary by themselves within their
    # hold timeout; the message names them.
    unreachable: tuple[str, ...] = ()


class Sessions(Protocol):
    """What a switch needs of the sessions of applications connected through a connector."""

    def hold(self, drain_limit: float) -> Held:
        """Pause every session at its next transaction boundary, waiting up to `drain_limit`."""
        ...

    def release(self, primary: Server) -> Released:
        """Move every held session to `primary` with its state, and let it go on."""
        ...


class NoSessions:
    """No connector: applications connect to the servers themselves."""

    def hold(self, drain_limit: float) -> Held:
        return Held()

    def release(self, primary: Server) -> Released:
        return Released()
