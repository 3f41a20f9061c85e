"""The `mariadb` command-line client, in one interactive session on a terminal, across switches."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from typing import TYPE_CHECKING

from tests.replication.connector.clients import (
    SWITCHES,
    SqlPrepared,
    create_table,
    journey,
    require,
)

if TYPE_CHECKING:
    from tests.replication.connector.conftest import Connected

ANSWER_TIMEOUT = 60.0
# What the client prints when it finds its connection gone and opens another one.
RECONNECT = "No connection. Trying to reconnect..."
CONNECTION_ID = re.compile(r"Connection id:\s+(\d+)")


class CliError(AssertionError):
    """The client printed an error for a statement."""


class MariadbCliSession(SqlPrepared):
    """`mariadb` on a pseudo-terminal, typed into as a person would, its tables read back."""

    def __init__(self, name: str, host: str, port: int, user: str, password: str) -> None:
        self.name = name
        self.transcript = ""
        self._asked = 0
        program = require("mariadb", "mariadb-client")
        leader, follower = pty.openpty()
        # A wide terminal, so that neither the echo nor the tables are wrapped.
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 500, 0, 0))
        self.proc = subprocess.Popen(
            [
                program,
                f"--host={host}",
                f"--port={port}",
                f"--user={user}",
                "--skip-ssl",
                "--skip-column-names",
                "--prompt=lb> ",
            ],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**os.environ, "MYSQL_PWD": password, "TERM": "dumb"},
            start_new_session=True,
        )
        os.close(follower)
        self.fd = leader
        self._read_until("lb> ")

    def _read_until(self, marker: str) -> str:
        """Output up to and including `marker`; fails on a deadline, never hangs."""
        chunks: list[str] = []
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while marker not in "".join(chunks):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise CliError(f"mariadb gave no {marker!r}; it printed: {''.join(chunks)!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunks.append(os.read(self.fd, 65536).decode(errors="replace"))
                except OSError:
                    continue
        out = "".join(chunks)
        self.transcript += out
        return out

    def ask(self, command: str) -> str:
        """Type one command and a marker query; everything printed in between."""
        self._asked += 1
        # The echo shows CONCAT(...); only the answer holds the joined marker.
        marker = f"lb-done-{self._asked}"
        os.write(self.fd, f"{command}\nSELECT CONCAT('lb-done-', {self._asked});\n".encode())
        out = self._read_until(f"| {marker} |")
        if "lb> " not in out[out.index(marker) :]:
            out += self._read_until("lb> ")
        errors = [line for line in out.splitlines() if line.startswith("ERROR")]
        if errors:
            raise CliError(f"mariadb answered {command!r} with: {errors}")
        return out

    def run(self, sql: str) -> list[tuple[str, ...]]:
        out = self.ask(sql.rstrip(";") + ";")
        rows = []
        for line in out.replace("\r", "").splitlines():
            if line.startswith("| ") and line.endswith(" |") and "lb-done-" not in line:
                rows.append(tuple(cell.strip() for cell in line[1:-1].split("|")))
        return rows

    def thread_id(self) -> int:
        found = CONNECTION_ID.findall(self.ask("\\s"))
        assert found, "`\\s` printed no connection id"
        return int(found[-1])

    def connects(self) -> int:
        return 1 + self.transcript.count(RECONNECT)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.write(self.fd, b"quit\n")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.fd)


def test_mariadb_client_session_survives_switches_and_failover(connected: Connected) -> None:
    create_table(connected)
    app = connected.app
    session = MariadbCliSession(
        "mariadb-cli", connected.host, connected.writer_port, app.user, app.password
    )
    try:
        seen = journey(connected, session)
    finally:
        session.close()
    assert seen.written == SWITCHES + 2
    assert RECONNECT not in session.transcript
    assert "ERROR" not in session.transcript
