"""An SQLAlchemy pool of three connections lives through switches and a failover unharmed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from replication.settings import SANDBOX_APP_SCHEMA, SANDBOX_SERVERS
from tests.replication.connector.clients import (
    AUTOCOMMIT_ON_AFTER,
    STATE_STATEMENTS,
    TABLE,
    Journey,
    SqlPrepared,
    create_table,
    one_round,
    targets,
    text,
    wait_replicated,
)

if TYPE_CHECKING:
    from tests.replication.connector.conftest import Connected

POOL_SIZE = 3


class PooledSession(SqlPrepared):
    """One connection checked out of the pool, driven through SQLAlchemy's own API."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.raw: Any = conn.connection.dbapi_connection
        self.name = f"sqlalchemy-{self.thread_id()}"

    def run(self, sql: str) -> list[tuple[str, ...]]:
        result = self.conn.exec_driver_sql(sql)
        rows = result.fetchall() if result.returns_rows else []
        return [tuple(text(v) for v in row) for row in rows]

    def thread_id(self) -> int:
        return int(self.raw.server_thread_id[0])


class RawSession(SqlPrepared):
    """A pooled connection as the pool's connect hook sees it: the driver's own object."""

    def __init__(self, dbapi_connection: Any) -> None:
        self.raw = dbapi_connection

    def run(self, sql: str) -> list[tuple[str, ...]]:
        with self.raw.cursor() as cur:
            cur.execute(sql)
            return [tuple(text(v) for v in row) for row in cur.fetchall()]


class Pool:
    """The engine, and what its pool did: connections opened and thrown away."""

    def __init__(self, url: sa.URL) -> None:
        self.engine = sa.create_engine(
            url, pool_size=POOL_SIZE, max_overflow=0, pool_pre_ping=False, pool_recycle=-1
        )
        self.opened = 0
        self.invalidated: list[str] = []
        sa.event.listen(self.engine, "connect", self._on_connect)
        sa.event.listen(self.engine, "invalidate", self._on_invalidate)
        self.journeys: dict[int, Journey] = {}

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # Session state set once per connection, as applications do in this hook.
        self.opened += 1
        session = RawSession(dbapi_connection)
        for statement in STATE_STATEMENTS:
            session.run(statement)
        session.prepare()

    def _on_invalidate(self, _dbapi: Any, _record: Any, exception: BaseException | None) -> None:
        self.invalidated.append(repr(exception))

    @contextlib.contextmanager
    def all_connections(self, autocommit: bool) -> Iterator[list[PooledSession]]:
        """Every connection of the pool checked out at once."""
        with contextlib.ExitStack() as stack:
            sessions = []
            for _ in range(POOL_SIZE):
                conn = stack.enter_context(self.engine.connect())
                if autocommit:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                sessions.append(PooledSession(conn))
            yield sessions

    def round(self, autocommit: bool, where: str) -> None:
        with self.all_connections(autocommit) as sessions:
            for session in sessions:
                seen = self.journeys.setdefault(session.thread_id(), Journey(session.name))
                one_round(session, seen, autocommit, where)


def test_sqlalchemy_pool_keeps_its_connections(connected: Connected) -> None:
    create_table(connected)
    app = connected.app
    url = sa.URL.create(
        "mysql+pymysql",
        username=app.user,
        password=app.password,
        host=connected.host,
        port=connected.writer_port,
    )
    pool = Pool(url)
    try:
        pool.round(False, "before any switch")
        primary = SANDBOX_SERVERS[0]
        for i, target in enumerate(targets()):
            report = connected.switch(target)
            assert report.outcome == "success", f"switch {i + 1} to {target}: {report.lines}"
            primary = target
            pool.round(i >= AUTOCOMMIT_ON_AFTER, f"after switch {i + 1} to {target}")
        wait_replicated(connected, primary)
        connected.sandbox.kill_server(primary)
        report = connected.failover()
        assert report.outcome == "success", f"failover from {primary}: {report.lines}"
        pool.round(True, f"after the failover from {primary} to {report.target}")
    finally:
        pool.engine.dispose()

    assert pool.opened == POOL_SIZE, f"the pool opened {pool.opened} connections"
    assert pool.invalidated == [], "the pool threw connections away"
    assert len(pool.journeys) == POOL_SIZE
    rows = connected.sandbox.sql(
        report.target, f"SELECT client, COUNT(*) FROM `{SANDBOX_APP_SCHEMA}`.{TABLE} GROUP BY 1"
    )
    assert dict(rows) == {j.client: j.written for j in pool.journeys.values()}
    assert all(j.written == len(targets()) + 2 for j in pool.journeys.values())
