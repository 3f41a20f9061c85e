"""How a switch reaches the running connectors: a registration file each, a control port.

Each connector writes `$LIFEBOAT_HOME/mysql/connectors/<pid>-<port>.json` (mode 0600: its
token is the key to holding every application session) and answers one JSON request per
line on 127.0.0.1. `ConnectorSessions` is what `lifeboat switch` and `failover` hand to the
switch: it holds and releases the sessions of every connector registered in the data home.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifeboat.settings import HOME_ENV
from replication.connector.settings import CONTROL_CONNECT_TIMEOUT, REGISTRY_DIR
from replication.errors import ReplicationError
from replication.sessions import Held, Released
from replication.settings import HISTORY_DIR
from replication.topology import Server


def registry_dir(home: Path) -> Path:
    return home / HISTORY_DIR / REGISTRY_DIR


@dataclass
class Registration:
    """One running connector as its file describes it."""

    path: Path
    pid: int
    control: tuple[str, int]
    token: str
    writer: str
    reader: str

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()

    @classmethod
    def read(cls, path: Path) -> Registration | None:
        try:
            data = json.loads(path.read_text())
            host, port = data["control"].rsplit(":", 1)
            return cls(
                path,
                int(data["pid"]),
                (host, int(port)),
                data["token"],
                data["writer"],
                data["reader"],
            )
        except (OSError, ValueError, KeyError):
            return None

    @property
    def name(self) -> str:
        return f"connector {self.writer} (pid {self.pid})"


def register(home: Path, control_port: int, writer: str, reader: str) -> Registration:
    """Write a running connector's registration file (mode 0600) and return it."""
    folder = registry_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}-{writer.rsplit(':', 1)[1]}.json"
    body = {
        "pid": os.getpid(),
        "control": f"127.0.0.1:{control_port}",
        "token": secrets.token_urlsafe(24),
        "writer": writer,
        "reader": reader,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(body, handle)
    registration = Registration.read(path)
    assert registration is not None
    return registration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an exited child not yet reaped is not alive
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class ConnectorSessions:
    """The sessions of every connector registered in a data home (replication.sessions)."""

    def __init__(self, home: Path, timeout: float = 60.0) -> None:
        self.home = home
        self.timeout = timeout

    def registrations(self) -> list[Registration]:
        found = []
        folder = registry_dir(self.home)
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            registration = Registration.read(path)
            if registration is None:
                continue
            if not _alive(registration.pid):
                registration.remove()  # a connector that died without cleaning up
                continue
            found.append(registration)
        return found

    def ask(self, registration: Registration, request: dict[str, Any]) -> dict[str, Any]:
        """One request to one connector; raises OSError when it cannot be reached."""
        with socket.create_connection(registration.control, CONTROL_CONNECT_TIMEOUT) as sock:
            sock.settimeout(self.timeout)
            payload = {**request, "token": registration.token}
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise OSError("the connector closed the control connection")
                data += chunk
        reply = json.loads(data)
        if "error" in reply:
            raise OSError(reply["error"])
        return dict(reply)

    def hold(self, drain_limit: float) -> Held:
        held = in_transaction = connectors = 0
        for registration in self.registrations():
            try:
                reply = self.ask(registration, {"op": "hold", "drain_limit": drain_limit})
            except (OSError, ValueError):
                continue
            connectors += 1
            held += int(reply["held"])
            in_transaction += int(reply["in_transaction"])
        return Held(connectors=connectors, held=held, in_transaction=in_transaction)

    def release(self, primary: Server) -> Released:
        kept = ended = connectors = 0
        unreachable = []
        request = {
            "op": "release",
            "name": primary.name,
            "host": primary.host,
            "port": primary.port,
        }
        for registration in self.registrations():
            try:
                reply = self.ask(registration, request)
            except (OSError, ValueError):
                unreachable.append(registration.name)
                continue
            connectors += 1
            kept += int(reply["kept"])
            ended += int(reply["ended"])
        return Released(
            connectors=connectors, kept=kept, ended=ended, unreachable=tuple(unreachable)
        )

    def status(self) -> list[dict[str, Any]]:
        statuses = []
        for registration in self.registrations():
            try:
                statuses.append(self.ask(registration, {"op": "status"}))
            except (OSError, ValueError):
                statuses.append({"writer": registration.writer, "error": "unreachable"})
        return statuses


def start_background(home: Path, command: list[str], log: Path, timeout: float = 30.0) -> str:
    """Start a connector that outlives this process (as the sandbox's servers do).

    Returns a line saying where it listens; a connector already registered in `home` is
    left as it is.
    """
    sessions = ConnectorSessions(home)
    running = sessions.registrations()
    if not running:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                env={**os.environ, HOME_ENV: str(home)},
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not (running := sessions.registrations()):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                raise ConnectorNotStarted(
                    f"the connector did not start (see {log}): " + " / ".join(tail)
                )
            time.sleep(0.1)
    first = running[0]
    return (
        f"applications connect through the lifeboat connector: writer {first.writer}, "
        f"reader {first.reader} (log: {log})"
    )


def stop_registered(home: Path, timeout: float = 30.0) -> int:
    """Stop every connector registered in `home`; returns how many were stopped."""
    stopped = 0
    for registration in ConnectorSessions(home).registrations():
        with contextlib.suppress(ProcessLookupError):
            os.kill(registration.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(registration.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        registration.remove()
        stopped += 1
    return stopped


class ConnectorNotStarted(ReplicationError):
    """A background connector did not come up."""
