"""Clients nobody here wrote, driven through the connector: one session, its state, its writes.

Each client is wrapped as a `ClientSession` (run a text query, write and read through a
prepared statement, tell its thread id and how many times it connected); `journey` then takes
any of them through 10 switches and a failover and says what the application saw.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pymysql
import pytest

from replication.settings import SANDBOX_APP_SCHEMA, SANDBOX_SERVERS

try:
    from mysql.connector.connection_cext import CMySQLConnection
except ImportError:
    CMySQLConnection = None

TABLE = "client_writes"
# Cycling through every other server, so each one takes the primary's role more than once.
SWITCHES = 10
# After this many switches the session turns autocommit back on: both settings must survive.
AUTOCOMMIT_ON_AFTER = 5
SQL_MODE = "ANSI_QUOTES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"
TIME_ZONE = "+05:00"
DIV_PRECISION = 7
USER_VARIABLE = 42

# The session state an application sets once and relies on for the life of its connection.
STATE_STATEMENTS = (
    f"USE `{SANDBOX_APP_SCHEMA}`",
    "SET NAMES utf8mb4",
    f"SET SESSION sql_mode = '{SQL_MODE}'",
    f"SET time_zone = '{TIME_ZONE}'",
    f"SET SESSION div_precision_increment = {DIV_PRECISION}",
    f"SET @x = {USER_VARIABLE}",
    "SET autocommit = 0",
)
STATE_QUERY = (
    "SELECT DATABASE(), @@character_set_client, @@character_set_connection, "
    "@@character_set_results, @@autocommit, @@sql_mode, @@time_zone, "
    "@@div_precision_increment, @x, 1/3"
)
STATE_NAMES = (
    "database",
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "autocommit",
    "sql_mode",
    "time_zone",
    "div_precision_increment",
    "@x",
    "1/3",
)
INSERT_SQL = f"INSERT INTO {TABLE} (client, n) VALUES (?, ?)"
SELECT_SQL = f"SELECT n FROM {TABLE} WHERE client = ? ORDER BY n"


def expected_state(autocommit: bool) -> dict[str, str]:
    return dict(
        zip(
            STATE_NAMES,
            (
                SANDBOX_APP_SCHEMA,
                "utf8mb4",
                "utf8mb4",
                "utf8mb4",
                "1" if autocommit else "0",
                SQL_MODE,
                TIME_ZONE,
                str(DIV_PRECISION),
                str(USER_VARIABLE),
                "0." + "3" * DIV_PRECISION,
            ),
            strict=True,
        )
    )


def text(value: Any) -> str:
    """A value as the mariadb client prints it, so every client's rows compare alike."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray):
        return value.decode()
    return str(value)


class ClientSession(Protocol):
    """One application connection, whatever client library or program holds it."""

    name: str

    def run(self, sql: str) -> list[tuple[str, ...]]:
        """Run one statement over the text protocol; its rows as text."""
        ...

    def prepare(self) -> None:
        """Prepare INSERT_SQL and SELECT_SQL on the server (binary or SQL-level)."""
        ...

    def insert(self, n: int) -> None:
        """Write row `n` of this client through the prepared INSERT."""
        ...

    def written(self) -> list[int]:
        """This client's rows, read through the prepared SELECT."""
        ...

    def thread_id(self) -> int:
        """The connection id the client library got at its handshake."""
        ...

    def connects(self) -> int:
        """How many times the client opened a connection (1 unless it reconnected)."""
        ...

    def close(self) -> None: ...


class SqlPrepared:
    """Server-side prepared statements through SQL (PREPARE / EXECUTE), for text-only clients."""

    name: str

    def run(self, sql: str) -> list[tuple[str, ...]]:
        raise NotImplementedError

    def prepare(self) -> None:
        self.run(f"PREPARE lb_insert FROM '{INSERT_SQL}'")
        self.run(f"PREPARE lb_select FROM '{SELECT_SQL}'")

    def insert(self, n: int) -> None:
        self.run(f"EXECUTE lb_insert USING '{self.name}', {n}")

    def written(self) -> list[int]:
        return [int(row[0]) for row in self.run(f"EXECUTE lb_select USING '{self.name}'")]


class CountingPyMySQL(pymysql.connections.Connection):
    """pymysql's connection, counting each time it opens a socket (a reconnect shows here)."""

    opened = 0

    def connect(self, sock: Any = None) -> None:
        self.opened += 1
        super().connect(sock)


class PyMySQLSession(SqlPrepared):
    """pymysql: text protocol only, so its prepared statements are SQL-level."""

    def __init__(self, name: str, host: str, port: int, user: str, password: str) -> None:
        self.name = name
        self.conn = CountingPyMySQL(
            host=host, port=port, user=user, password=password, read_timeout=60
        )

    def run(self, sql: str) -> list[tuple[str, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(text(v) for v in row) for row in cur.fetchall()]

    def thread_id(self) -> int:
        return int(self.conn.server_thread_id[0])

    def connects(self) -> int:
        return self.conn.opened

    def close(self) -> None:
        self.conn.close()


def _counting(base: type) -> type:
    """The driver's connection class, counting each connection it opens."""

    class Counting(base):  # type: ignore[misc, valid-type]
        opened = 0

        def _open_connection(self, *args: Any, **kwargs: Any) -> None:
            self.opened += 1
            super()._open_connection(*args, **kwargs)

    return Counting


class ConnectorPythonSession:
    """mysql-connector-python; its prepared cursor speaks the binary protocol."""

    def __init__(self, name: str, connection_class: type, **kwargs: Any) -> None:
        self.name = name
        # TLS is not what this test is about; the sandbox's servers have none.
        self.conn = _counting(connection_class)(ssl_disabled=True, **kwargs)
        self.inserts: Any = None
        self.selects: Any = None

    def run(self, sql: str) -> list[tuple[str, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            rows = cur.fetchall() if cur.with_rows else []
        finally:
            cur.close()
        return [tuple(text(v) for v in row) for row in rows]

    def prepare(self) -> None:
        # One cursor per statement: each keeps its statement id and reuses it every round.
        self.inserts = self.conn.cursor(prepared=True)
        self.selects = self.conn.cursor(prepared=True)

    def insert(self, n: int) -> None:
        self.inserts.execute(INSERT_SQL, (self.name, n))

    def written(self) -> list[int]:
        self.selects.execute(SELECT_SQL, (self.name,))
        return [int(row[0]) for row in self.selects.fetchall()]

    def thread_id(self) -> int:
        return int(self.conn.connection_id)

    def connects(self) -> int:
        return self.conn.opened

    def close(self) -> None:
        self.conn.close()


@dataclass
class Journey:
    """What one client saw across the switches and the failover."""

    client: str
    primaries: list[str] = field(default_factory=list)
    thread_ids: list[int] = field(default_factory=list)
    states: list[dict[str, str]] = field(default_factory=list)
    written: int = 0


class Topologyish(Protocol):
    """The parts of the `connected` fixture a journey uses."""

    @property
    def sandbox(self) -> Any: ...

    def switch(self, to: str | None = None) -> Any: ...

    def failover(self) -> Any: ...


def create_table(connected: Topologyish, primary: str = SANDBOX_SERVERS[0]) -> None:
    connected.sandbox.sql(
        primary,
        f"CREATE TABLE IF NOT EXISTS `{SANDBOX_APP_SCHEMA}`.{TABLE} "
        "(client VARCHAR(64) NOT NULL, n INT NOT NULL, PRIMARY KEY (client, n))",
    )


def set_state(session: ClientSession) -> None:
    for statement in STATE_STATEMENTS:
        session.run(statement)
    session.prepare()


def state_of(session: ClientSession) -> dict[str, str]:
    rows = session.run(STATE_QUERY)
    return dict(zip(STATE_NAMES, rows[0], strict=True))


def one_round(session: ClientSession, journey: Journey, autocommit: bool, where: str) -> None:
    """Check the session's state, write one row through the prepared statement, read all back."""
    state = state_of(session)
    journey.states.append(state)
    assert state == expected_state(autocommit), f"{session.name}, {where}: session state changed"
    journey.written += 1
    session.insert(journey.written)
    session.run("COMMIT")
    found = session.written()
    # Reading opens a transaction when autocommit is off: end it so the switch may hold us.
    session.run("COMMIT")
    assert found == list(range(1, journey.written + 1)), (
        f"{session.name}, {where}: its own acknowledged writes are not all there: {found}"
    )


def targets(count: int = SWITCHES) -> list[str]:
    """beta, gamma, alpha, beta, ...: every server becomes primary in turn."""
    order = list(SANDBOX_SERVERS)
    return [order[(i + 1) % len(order)] for i in range(count)]


def wait_replicated(connected: Topologyish, primary: str) -> None:
    """Let every replica apply what the primary committed (async replication may lag)."""
    sandbox = connected.sandbox
    position = sandbox.sql(primary, "SELECT @@global.gtid_binlog_pos")[0][0]
    for server in sandbox.servers():
        if server.name != primary:
            waited = sandbox.sql(server.name, "SELECT MASTER_GTID_WAIT(%s, 30)", (position,))
            assert waited[0][0] == 0, f"{server.name} did not catch up with {primary}"


def journey(
    connected: Topologyish,
    session: ClientSession,
    after_round: Callable[[Journey], None] | None = None,
) -> Journey:
    """10 switches then a failover under one connection; assert nothing the app relies on broke.

    The session is idle (at a transaction boundary) whenever a switch starts, as an
    application between requests is.
    """
    seen = Journey(session.name)
    set_state(session)
    first_id = session.thread_id()
    autocommit = False
    primary = SANDBOX_SERVERS[0]

    def checked_round(where: str) -> None:
        try:
            one_round(session, seen, autocommit, where)
        except AssertionError:
            raise
        except Exception as exc:
            raise AssertionError(f"{session.name}, {where}: {exc!r}") from exc
        seen.thread_ids.append(session.thread_id())
        seen.primaries.append(primary)
        assert seen.thread_ids[-1] == first_id, (
            f"{session.name}, {where}: thread id {first_id} became {seen.thread_ids[-1]}: "
            "the client was given another connection"
        )
        if after_round is not None:
            after_round(seen)

    checked_round("before any switch")
    for i, target in enumerate(targets()):
        if i == AUTOCOMMIT_ON_AFTER:
            session.run("SET autocommit = 1")
            autocommit = True
        report = connected.switch(target)
        assert report.outcome == "success", f"switch {i + 1} to {target}: {report.lines}"
        primary = target
        checked_round(f"after switch {i + 1} to {target}")
    wait_replicated(connected, primary)
    connected.sandbox.kill_server(primary)
    report = connected.failover()
    assert report.outcome == "success", f"failover from {primary}: {report.lines}"
    primary = report.target
    checked_round(f"after the failover from {seen.primaries[-1]} to {primary}")
    assert session.connects() == 1, (
        f"{session.name} connected {session.connects()} times: it reconnected"
    )
    rows = connected.sandbox.sql(
        primary,
        f"SELECT n FROM `{SANDBOX_APP_SCHEMA}`.{TABLE} WHERE client = %s ORDER BY n",
        (session.name,),
    )
    assert [r[0] for r in rows] == list(range(1, seen.written + 1)), (
        f"the new primary {primary} lacks writes {session.name} made"
    )
    return seen


def require(tool: str, package: str) -> str:
    """The path of a program a test needs; fail (never skip) saying what to install."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` is not installed: run `apt-get install {package}` (.ci/run does)")
    return path
