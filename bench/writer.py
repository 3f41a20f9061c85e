"""An application writing without pause through a switch: for the switch benchmark and tests."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time

import pymysql

from replication.sandbox import Sandbox
from replication.settings import SANDBOX_APP_SCHEMA

DEFAULT_TABLE = f"`{SANDBOX_APP_SCHEMA}`.writes"


class AckedWrites(threading.Thread):
    """A writing thread's record: which numbered rows were acknowledged, and when."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.acked: list[int] = []
        self.acked_at: list[float] = []
        self.stopping = threading.Event()

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        """Block until `count` writes are acknowledged (raise if they never come)."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            if time.monotonic() > deadline or not self.is_alive():
                raise RuntimeError(f"the writer made only {len(self.acked)} of {count} writes")
            time.sleep(0.005)

    def longest_pause(self, start: float, end: float) -> float:
        """The longest wait between two acknowledged writes that overlaps [start, end], in ms."""
        longest = 0.0
        for before, after in itertools.pairwise(list(self.acked_at)):
            if after >= start and before <= end:
                longest = max(longest, after - before)
        return longest * 1000

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=40)
        if self.is_alive():
            raise RuntimeError("the writer did not stop within 40 s")


class Writer(AckedWrites):
    """Inserts numbered rows into whichever server accepts its writes.

    A row counts as acknowledged only when its autocommit INSERT returned; on an error (a
    read-only server, a lost connection) the writer tries the next server and never reuses
    the number of an insert whose outcome it does not know, since it may have committed.
    """

    def __init__(self, sandbox: Sandbox, table: str = DEFAULT_TABLE) -> None:
        super().__init__()
        self.table = table
        self.account = sandbox.account("app")
        self.ports = {s.name: s.port for s in sandbox.servers()}
        self.acked_on: dict[str, int] = {}
        self.errors = 0
        sandbox.sql(
            "alpha",
            f"CREATE TABLE IF NOT EXISTS {table} "
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
        current, n = 0, 0
        conn = None
        while not self.stopping.is_set():
            n += 1
            name = names[current]
            try:
                if conn is None:
                    conn = self._connect(name)
                with conn.cursor() as cur:
                    cur.execute(f"INSERT INTO {self.table} VALUES (%s, %s)", (n, name))
                self.acked.append(n)
                self.acked_at.append(time.perf_counter())
                self.acked_on[name] = self.acked_on.get(name, 0) + 1
            except pymysql.MySQLError:
                self.errors += 1
                if conn is not None:
                    with contextlib.suppress(pymysql.MySQLError):
                        conn.close()
                conn = None
                current = (current + 1) % len(names)
                time.sleep(0.001)
        if conn is not None:
            conn.close()
