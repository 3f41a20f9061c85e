"""Exceptions of the replication package, one class per kind of failure."""

from __future__ import annotations

from lifeboat.errors import LifeboatError


class ReplicationError(LifeboatError):
    """Base of every error about the MySQL topology."""


class TopologyConfigError(ReplicationError):
    """The topology description is missing or wrong."""


class ServerUnreachable(ReplicationError):
    """A server did not answer; `refused` when nothing listens there (the server is down)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class SwitchRefused(ReplicationError):
    """A check before a switch or failover failed; nothing was changed."""


class SwitchFailed(ReplicationError):
    """A step of a switch failed; it was rolled back to the old primary."""


class RollbackFailed(ReplicationError):
    """A switch failed and so did its rollback; a person must act (the message says how)."""


class FailoverRefused(SwitchRefused):
    """A failover is not possible or not needed; nothing was changed."""


class FailoverFailed(ReplicationError):
    """A failover step failed midway; the message says what state the servers are in."""


class SandboxError(ReplicationError):
    """The local sandbox topology could not be started, stopped or read."""
