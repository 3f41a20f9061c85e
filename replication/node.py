"""One server under a switch's or failover's control, and the steps every phase shares."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.cursors

from replication.dialect import Dialect, ReplicaStatus, Statement
from replication.errors import ReplicationError, RollbackFailed, ServerUnreachable
from replication.gtid import GtidState
from replication.probe import write_heartbeat
from replication.settings import PROTECTED_COMMANDS, PROTECTED_USERS, READ_MARGIN, VERIFY_TIMEOUT
from replication.switch_settings import BLOCK_LOCK_WAIT, READ_STATEMENTS, WAIT_SLICE
from replication.topology import Server, Topology, describe_error

Out = Callable[[str], None]
# Errors that mean a step failed and the switch must roll back.
STEP_ERRORS = (pymysql.MySQLError, ReplicationError, OSError)


class SwitchStepError(ReplicationError):
    """One statement of a switch step failed."""


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
            conn = self.topology.connect(
                self.server, self.topology.switch, read_timeout=wait + READ_MARGIN
            )
            # Without a bound, read_only=ON waits as long as the slowest running write.
            statement = self.dialect.lock_wait(BLOCK_LOCK_WAIT)
            with conn.cursor() as cur:
                cur.execute(statement.sql, statement.params)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def alive(self) -> bool:
        """Whether the server still answers on the switch's connection (no reconnect)."""
        try:
            self.conn().ping(reconnect=False)
            return True
        except (pymysql.MySQLError, ServerUnreachable, OSError):
            return False

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

    def wait_for(self, position: str, timeout: float, source: Node | None = None) -> bool:
        """Wait until this server has applied `position`; False after `timeout`.

        The wait runs in short slices so that a `source` (where the position comes from) that
        dies is noticed at once: SwitchStepError then, not a wait to the end of the timeout.
        """
        if not position:
            return True
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            statement = self.dialect.wait_for_gtid(position, min(WAIT_SLICE, left))
            if self.dialect.wait_succeeded(self.one(statement)[0]):
                return True
            if source is not None and not source.alive():
                raise SwitchStepError(
                    f"{source.name} went down while {self.name} waited for its transactions"
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

    def _protected_users(self) -> frozenset[str]:
        return PROTECTED_USERS | {self.topology.replication.user, self.topology.switch.user}

    def app_sessions(self) -> list[dict[str, Any]]:
        """Sessions of applications: never replication, system or lifeboat's own threads."""
        protected_users = self._protected_users()
        return [
            row
            for row in self.rows(self.dialect.sessions)
            if row["user"] not in protected_users and row["command"] not in PROTECTED_COMMANDS
        ]

    def running_writes(self, limit: float) -> list[tuple[int, str, float, str]]:
        """(session, user, seconds, statement) of application writes running over `limit` s."""
        found = []
        protected = self._protected_users()
        with self.conn().cursor() as cur:
            cur.execute(self.dialect.running_statements.sql)
            for session, user, ms, info in cur.fetchall():
                seconds = float(ms or 0) / 1000
                if user in protected or seconds <= limit or not _writes(str(info)):
                    continue
                found.append((int(session), str(user), seconds, " ".join(str(info).split())))
        return found

    def kill_app_sessions(self) -> int:
        killed = 0
        for row in self.app_sessions():
            statement = self.dialect.kill(row["id"])
            with contextlib.suppress(pymysql.MySQLError), self.conn().cursor() as cur:
                cur.execute(statement.sql, statement.params)
                killed += 1
        return killed


def _writes(statement: str) -> bool:
    """Whether a statement may change data: anything that does not start with a read verb."""
    text = statement.strip()
    while text.startswith("/*") and "*/" in text:
        text = text.split("*/", 1)[1].strip()
    words = text.split(None, 1)
    first = words[0].lower().rstrip("(;") if words else ""
    return first not in READ_STATEMENTS


def reconnect(node: Node, must_be_down: bool = False) -> Node | None:
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
    except pymysql.MySQLError:
        node.close()
        return None


def verify(source: Node, replicas: list[Node]) -> None:
    """A heartbeat written on the new primary must reach every replica, which must run."""
    try:
        position = write_heartbeat(source.conn(), source.dialect)
    except pymysql.MySQLError as exc:
        raise SwitchStepError(
            f"{source.name}: could not write the heartbeat: {describe_error(exc)}"
        ) from None
    for node in replicas:
        if not node.wait_for(position, VERIFY_TIMEOUT, source=source):
            status = node.replica_status()
            error = (status.last_io_error or status.last_sql_error) if status else "no source"
            raise SwitchStepError(
                f"the heartbeat from {source.name} did not reach {node.name} within "
                f"{VERIFY_TIMEOUT:g} s ({error or 'no error reported'})"
            )
