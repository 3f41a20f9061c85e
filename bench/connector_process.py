"""`lifeboat connector` in a process of its own, for the benchmarks, as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lifeboat.settings import HOME_ENV
from replication.connector.control import ConnectorSessions

CONNECTOR_START_TIMEOUT = 30.0
CONNECTOR_STOP_TIMEOUT = 30.0


class ConnectorProcess:
    """`lifeboat connector --sandbox` in a process of its own, as a user runs it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log = home / "connector.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.writer_port = 0

    def start(self) -> None:
        """Start it and return once it registered in the data home (its ports listen then)."""
        program = Path(sys.executable).with_name("lifeboat")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(program), "connector", "--sandbox"],
                env={**os.environ, HOME_ENV: str(self.home)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + CONNECTOR_START_TIMEOUT
        while True:
            mine = [
                r for r in ConnectorSessions(self.home).registrations() if r.pid == self.proc.pid
            ]
            if mine:
                self.writer_port = int(mine[0].writer.rsplit(":", 1)[1])
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = " / ".join(self.log.read_text(errors="replace").strip().splitlines()[-3:])
                raise RuntimeError(f"the connector did not start ({self.log}): {tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=CONNECTOR_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"connector pid {self.proc.pid} ignored SIGTERM: killed")
            self.proc.kill()
            self.proc.wait()
