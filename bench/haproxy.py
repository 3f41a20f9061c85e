"""Debian's HAProxy in TCP mode before a topology: the plain alternative to the connector.

HAProxy sends new connections to the one server marked ready and health-checks it with a TCP
check; after a switch the bench marks the new primary ready through HAProxy's runtime API, as an
operator's post-switch hook would. It does not move sessions: the switch kills them.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from replication.sandbox import free_port

START_TIMEOUT = 10.0
CONFIG = """\
global
    maxconn 512
    stats socket {admin} mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h

frontend writer
    bind 127.0.0.1:{port}
    default_backend primary

backend primary
    option tcp-check
{servers}
"""


class HAProxyMissing(RuntimeError):
    """HAProxy is not installed."""


class HAProxy:
    """One haproxy process with its own config in a temporary directory, on a free port."""

    def __init__(self, servers: dict[str, int], primary: str) -> None:
        program = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
        )
        if program is None:
            raise HAProxyMissing("haproxy is not installed: run `apt-get install haproxy`")
        self.program = program
        self.servers = servers
        self.primary = primary
        self.dir = Path(tempfile.mkdtemp(prefix="lb-haproxy-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def admin(self) -> Path:
        return self.dir / "admin.sock"

    def _config(self) -> str:
        lines = [
            f"    server {name} 127.0.0.1:{port} check inter 500ms"
            + ("" if name == self.primary else " disabled")
            for name, port in self.servers.items()
        ]
        return CONFIG.format(admin=self.admin, port=self.port, servers="\n".join(lines))

    def start(self) -> None:
        config = self.dir / "haproxy.cfg"
        config.write_text(self._config())
        self.proc = subprocess.Popen(
            [self.program, "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.proc.stderr.read().decode()[-500:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"haproxy did not listen on {self.port} within {START_TIMEOUT:g} s")

    def command(self, line: str) -> str:
        """One runtime API command on the admin socket; its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.admin))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def point_at(self, primary: str) -> None:
        """New connections go to `primary` only, from now on."""
        self.command(f"set server primary/{primary} state ready")
        for name in self.servers:
            if name != primary:
                self.command(f"set server primary/{name} state maint")
        self.primary = primary

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
