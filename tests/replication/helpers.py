"""Helpers of the replication tests: thresholds, replication waits, a writing application."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time

import pymysql

from replication.sandbox import Sandbox
from replication.settings import SANDBOX_APP_SCHEMA
from replication.topology import Topology


def tuned(topology: Topology, **changes: float) -> Topology:
    """The same topology with other thresholds (lag, timeouts, long-write limit)."""
    return dataclasses.replace(topology, config=topology.config.model_copy(update=changes))


def primary_position(sandbox: Sandbox, primary: str) -> str:
    return str(sandbox.sql(primary, "SELECT @@global.gtid_binlog_pos")[0][0])


def wait_replicated(
    sandbox: Sandbox, primary: str, replicas: tuple[str, ...] = (), timeout: float = 30.0
) -> None:
    """Block until the replicas (default: every other server) have all the primary has."""
    position = primary_position(sandbox, primary)
    names = replicas or tuple(s.name for s in sandbox.servers() if s.name != primary)
    for name in names:
        result = sandbox.sql(name, "SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))
        assert result[0][0] == 0, f"{name} did not reach {position}"


class Writer(threading.Thread):
    """An application that inserts without pause into whichever server accepts writes.

    A row counts as acknowledged only when its INSERT returned without error under
    autocommit; on read_only errors or lost connections it tries the next server.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.account = sandbox.account("app")
        self.ports = {s.name: s.port for s in sandbox.servers()}
        self.acked: list[int] = []
        self.acked_on: dict[str, int] = {}
        self.errors = 0
        self.stop_event = threading.Event()
        sandbox.sql(
            "alpha",
            f"CREATE TABLE IF NOT EXISTS `{SANDBOX_APP_SCHEMA}`.writes "
            "(n INT PRIMARY KEY, written_on VARCHAR(16) NOT NULL)",
        )

    def _connect(self, name: str) -> pymysql.connections.Connection:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.ports[name],
            user=self.account.user,
            password=self.account.password,
            autocommit=True,
            connect_timeout=2,
            read_timeout=5,
            write_timeout=5,
        )

    def run(self) -> None:
        names = list(self.ports)
        current = 0
        conn = None
        n = 0
        while not self.stop_event.is_set():
            name = names[current]
            try:
                if conn is None:
                    conn = self._connect(name)
                with conn.cursor() as cur:
                    cur.execute(
                        f"INSERT INTO `{SANDBOX_APP_SCHEMA}`.writes VALUES (%s, %s)", (n + 1, name)
                    )
                n += 1
                self.acked.append(n)
                self.acked_on[name] = self.acked_on.get(name, 0) + 1
            except pymysql.MySQLError:
                self.errors += 1
                if conn is not None:
                    with contextlib.suppress(pymysql.MySQLError):
                        conn.close()
                conn = None
                current = (current + 1) % len(names)
                # An insert whose outcome is unknown may have committed: never reuse its number.
                n += 1
                time.sleep(0.002)
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)
        assert not self.is_alive()


def rows_on(sandbox: Sandbox, name: str) -> set[int]:
    return {r[0] for r in sandbox.sql(name, f"SELECT n FROM `{SANDBOX_APP_SCHEMA}`.writes")}
