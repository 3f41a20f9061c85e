"""A real local topology: three mariadbd processes with GTID replication, for demo and tests."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import yaml

from replication.dialect import MariaDB
from replication.errors import SandboxError
from replication.settings import (
    HEARTBEAT_SCHEMA,
    INSTALL_DB,
    MARIADBD,
    MAX_SOCKET_PATH,
    SANDBOX_ACCOUNTS,
    SANDBOX_APP_SCHEMA,
    SANDBOX_CREDENTIALS_FILE,
    SANDBOX_HOST,
    SANDBOX_SERVERS,
    SANDBOX_START_TIMEOUT,
    SANDBOX_STOP_TIMEOUT,
    SANDBOX_TOPOLOGY_FILE,
)
from replication.topology import Account, Topology, from_config, load_config_file, read_env_file

# Grants of the sandbox accounts; replication/README.md documents the same set.
GRANTS = {
    "replication": ["GRANT REPLICATION SLAVE ON *.* TO {who}"],
    "monitor": [
        "GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, CREATE ON `{HEARTBEAT_SCHEMA}`.* TO {{who}}",
    ],
    "switch": [
        "GRANT READ_ONLY ADMIN, CONNECTION ADMIN, PROCESS, RELOAD, REPLICATION SLAVE ADMIN, "
        "SLAVE MONITOR, BINLOG MONITOR ON *.* TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, CREATE ON `{HEARTBEAT_SCHEMA}`.* TO {{who}}",
    ],
    # The connector verifies applications against the servers' own password hashes.
    "connector": ["GRANT SELECT ON mysql.global_priv TO {who}"],
    "app": [f"GRANT ALL ON `{SANDBOX_APP_SCHEMA}`.* TO {{who}}"],
}


@dataclass(frozen=True)
class SandboxServer:
    """One mariadbd of the sandbox and its files."""

    name: str
    server_id: int
    port: int
    home: Path

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"

    @property
    def socket(self) -> Path:
        return self.home / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.home / "mysqld.pid"

    @property
    def log(self) -> Path:
        return self.home / "error.log"


@dataclass(frozen=True)
class ServerStatus:
    name: str
    port: int
    pid: int | None
    running: bool


def free_port() -> int:
    """A TCP port nobody listens on now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((SANDBOX_HOST, 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


class Sandbox:
    """Start, stop and describe a local primary with replicas under one directory."""

    def __init__(
        self,
        root: Path,
        names: Sequence[str] = SANDBOX_SERVERS,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.names = tuple(names)
        self.out = out or (lambda _line: None)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def topology_file(self) -> Path:
        return self.root / SANDBOX_TOPOLOGY_FILE

    @property
    def credentials_file(self) -> Path:
        return self.root / SANDBOX_CREDENTIALS_FILE

    def servers(self) -> list[SandboxServer]:
        """The sandbox's servers as its topology file records them."""
        config = load_config_file(self.topology_file)
        return [
            SandboxServer(name, i + 1, spec.port, self.root / name)
            for i, (name, spec) in enumerate(config.servers.items())
        ]

    def server(self, name: str) -> SandboxServer:
        for server in self.servers():
            if server.name == name:
                return server
        raise SandboxError(f"no sandbox server named {name!r}")

    def credentials(self) -> dict[str, str]:
        return read_env_file(self.credentials_file)

    def account(self, role: str) -> Account:
        user, env = SANDBOX_ACCOUNTS[role]
        return Account(user=user, password=self.credentials()[f"{env}_PASSWORD"])

    def topology(self) -> Topology:
        """The sandbox as a lifeboat topology, its secrets read from the credentials file."""
        environ = {**os.environ, **self.credentials()}
        return from_config(load_config_file(self.topology_file), environ)

    def up(self) -> Topology:
        """Start the sandbox, creating it on first use; returns its topology."""
        if not shutil.which(INSTALL_DB) or not Path(MARIADBD).exists():
            raise SandboxError(
                f"MariaDB is not installed ({MARIADBD} / {INSTALL_DB} missing): "
                "run `apt-get install mariadb-server`."
            )
        if self.topology_file.is_file() and all(
            (s.data / "mysql").is_dir() for s in self.servers()
        ):
            self._restart()
        else:
            self._create()
        return self.topology()

    def _create(self) -> None:
        if self.root.exists():
            if any(self.root.iterdir()) and not self.topology_file.is_file():
                raise SandboxError(
                    f"{self.root} exists and is not a sandbox; move it away or choose another "
                    "LIFEBOAT_HOME"
                )
            # A sandbox whose creation was interrupted: start over.
            self.down()
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self._write_credentials()
        servers = [
            SandboxServer(name, i + 1, free_port(), self.root / name)
            for i, name in enumerate(self.names)
        ]
        self._write_topology(servers)
        self.out(f"creating {len(servers)} MariaDB servers under {self.root}")
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            list(pool.map(self._install, servers))
            list(pool.map(self._start, servers))
        primary, replicas = servers[0], servers[1:]
        root = Account("root", "")
        for replica in replicas:
            self._attach(replica, primary, root)
        self._bootstrap(primary)
        with self._root(primary, root) as conn, conn.cursor() as cur:
            cur.execute("SELECT @@global.gtid_binlog_pos")
            position = cur.fetchone()[0]
        for replica in replicas:
            self._wait_applied(replica, root, position)
        # Each server's root password is set locally, outside replication, once all agree.
        root_password = self.account("root").password
        for server in servers:
            with self._root(server, root) as conn, conn.cursor() as cur:
                cur.execute("SET SESSION sql_log_bin = 0")
                cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (root_password,))
        with self._root(primary, self.account("root")) as conn, conn.cursor() as cur:
            cur.execute("SET GLOBAL read_only = OFF")
        self.out(
            f"primary {primary.name} on port {primary.port}; replicas "
            + ", ".join(f"{r.name} on port {r.port}" for r in replicas)
        )

    def _restart(self) -> None:
        servers = self.servers()
        stopped = [s for s in servers if not self._running(s)]
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            list(pool.map(self._start, stopped))
        if stopped:
            self._open_primary(servers)
        self._wait_connected(servers)

    def _wait_connected(self, servers: list[SandboxServer]) -> None:
        """Wait until every replica's receiver is connected to its source again."""
        root = self.account("root")
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        for server in servers:
            while True:
                with (
                    self._root(server, root) as conn,
                    conn.cursor(pymysql.cursors.DictCursor) as cur,
                ):
                    cur.execute("SHOW SLAVE STATUS")
                    row = cur.fetchone()
                if row is None or row["Slave_IO_Running"] == "Yes":
                    break
                if time.monotonic() > deadline:
                    state = row["Last_IO_Error"] or row["Slave_IO_Running"]
                    raise SandboxError(
                        f"{server.name} did not reconnect to its source within "
                        f"{SANDBOX_START_TIMEOUT:g} s: {state}"
                    )
                time.sleep(0.05)

    def _open_primary(self, servers: list[SandboxServer]) -> None:
        """Servers start read-only; the one that replicates from nobody is the primary.

        A server that kept running through a failover may already be the primary: then it
        stays so, and what came back says so.
        """
        root = self.account("root")
        sources, writable = [], []
        for server in servers:
            with self._root(server, root) as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
                cur.execute("SHOW SLAVE STATUS")
                if not cur.fetchone():
                    sources.append(server)
                cur.execute("SELECT @@global.read_only AS read_only")
                if not cur.fetchone()["read_only"]:
                    writable.append(server)
        if len(writable) == 1:
            primary = writable[0]
            strays = [s.name for s in sources if s != primary]
            self.out(
                f"primary {primary.name} on port {primary.port} accepts writes"
                + (
                    f"; {', '.join(strays)} came back read-only and replicate from no one: "
                    f"check `lifeboat ls` before pointing them at {primary.name}"
                    if strays
                    else ""
                )
            )
        elif writable:
            self.out(
                f"{', '.join(s.name for s in writable)} all accept writes: check `lifeboat ls`"
            )
        elif len(sources) == 1:
            with self._root(sources[0], root) as conn, conn.cursor() as cur:
                cur.execute("SET GLOBAL read_only = OFF")
            self.out(f"primary {sources[0].name} on port {sources[0].port} accepts writes")
        else:
            self.out(
                "no single server without a source; all servers stay read-only "
                "(check `lifeboat ls`)"
            )

    def _write_credentials(self) -> None:
        lines = []
        for user, env in SANDBOX_ACCOUNTS.values():
            lines.append(f"{env}_USER={user}")
            lines.append(f"{env}_PASSWORD={secrets.token_urlsafe(18)}")
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")

    def _write_topology(self, servers: list[SandboxServer]) -> None:
        accounts = {
            role: {"user_env": f"{env}_USER", "password_env": f"{env}_PASSWORD"}
            for role, (_, env) in SANDBOX_ACCOUNTS.items()
            if role in ("monitor", "switch", "replication")
        }
        _, connector_env = SANDBOX_ACCOUNTS["connector"]
        description = {
            "mysql": {
                "servers": {s.name: {"host": SANDBOX_HOST, "port": s.port} for s in servers},
                **accounts,
                # Loopback only: TLS would buy nothing and cost every probe a handshake.
                "tls": "disabled",
                "lag_threshold": 5.0,
                "probe_timeout": 2.0,
                "long_write_limit": 10.0,
                "catch_up_timeout": 10.0,
                "connector": {
                    "host": SANDBOX_HOST,
                    "writer_port": free_port(),
                    "reader_port": free_port(),
                    "account": {
                        "user_env": f"{connector_env}_USER",
                        "password_env": f"{connector_env}_PASSWORD",
                    },
                },
            }
        }
        header = "# Written by `lifeboat sandbox up`; secrets are in credentials.env beside it.\n"
        self.topology_file.write_text(header + yaml.safe_dump(description, sort_keys=False))

    def _install(self, server: SandboxServer) -> None:
        if len(str(server.socket)) > MAX_SOCKET_PATH:
            raise SandboxError(
                f"{server.socket} is too long for a unix socket; "
                "use a shorter LIFEBOAT_HOME for the sandbox"
            )
        server.tmp.mkdir(parents=True, exist_ok=True)
        command = [
            INSTALL_DB,
            "--no-defaults",
            f"--datadir={server.data}",
            f"--tmpdir={server.tmp}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *self._user(),
            *_ENGINE_OPTIONS,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise SandboxError(f"mariadb-install-db failed for {server.name}: " + " | ".join(tail))

    @staticmethod
    def _user() -> list[str]:
        # mariadbd refuses to run as root unless told to.
        return ["--user=root"] if os.geteuid() == 0 else []

    def _command(self, server: SandboxServer) -> list[str]:
        return [
            MARIADBD,
            "--no-defaults",
            f"--datadir={server.data}",
            f"--tmpdir={server.tmp}",
            f"--port={server.port}",
            f"--bind-address={SANDBOX_HOST}",
            f"--socket={server.socket}",
            f"--pid-file={server.pid_file}",
            f"--log-error={server.log}",
            f"--server-id={server.server_id}",
            "--log-bin=binlog",
            "--relay-log=relay-bin",
            "--log-slave-updates=ON",
            "--binlog-format=ROW",
            "--gtid-strict-mode=ON",
            "--gtid-domain-id=0",
            # Every server starts read-only: a restarted old primary must never take writes.
            "--read-only=ON",
            "--skip-name-resolve",
            f"--report-host={SANDBOX_HOST}",
            f"--report-port={server.port}",
            "--slave-net-timeout=10",
            "--max-connections=200",
            *self._user(),
            *self._tls(),
            *_ENGINE_OPTIONS,
        ]

    def _tls(self) -> list[str]:
        """TLS for every server when `<root>/tls` holds server-cert.pem and server-key.pem."""
        cert, key = self.root / "tls" / "server-cert.pem", self.root / "tls" / "server-key.pem"
        if cert.is_file() and key.is_file():
            return [f"--ssl-cert={cert}", f"--ssl-key={key}"]
        return []

    def _start(self, server: SandboxServer) -> None:
        server.pid_file.unlink(missing_ok=True)
        proc = subprocess.Popen(
            self._command(server),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._procs[server.name] = proc
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SandboxError(
                    f"mariadbd for {server.name} exited with code {proc.returncode}: "
                    + self._log_tail(server)
                )
            if server.socket.exists() and server.pid_file.exists():
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection((SANDBOX_HOST, server.port), timeout=0.5),
                ):
                    return
            time.sleep(0.05)
        proc.kill()
        raise SandboxError(
            f"mariadbd for {server.name} did not start within {SANDBOX_START_TIMEOUT:g} s: "
            + self._log_tail(server)
        )

    @staticmethod
    def _log_tail(server: SandboxServer) -> str:
        try:
            lines = server.log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no error log)"
        hint = (
            f" Port {server.port} is taken: `lifeboat sandbox down --purge` then `up` picks "
            "free ones."
            if any("Address already in use" in line for line in lines[-20:])
            else ""
        )
        return " | ".join(lines[-5:]) + f" (see {server.log}).{hint}"

    @contextlib.contextmanager
    def _root(
        self, server: SandboxServer, account: Account
    ) -> Iterator[pymysql.connections.Connection]:
        conn = pymysql.connect(
            unix_socket=str(server.socket),
            ssl_disabled=True,
            user=account.user,
            password=account.password,
            autocommit=True,
            connect_timeout=5,
            read_timeout=SANDBOX_START_TIMEOUT,
        )
        try:
            yield conn
        finally:
            conn.close()

    def _attach(self, replica: SandboxServer, primary: SandboxServer, root: Account) -> None:
        user, env = SANDBOX_ACCOUNTS["replication"]
        password = self.credentials()[f"{env}_PASSWORD"]
        change = MariaDB().change_source(SANDBOX_HOST, primary.port, user, password)
        with self._root(replica, root) as conn, conn.cursor() as cur:
            cur.execute(change.sql, change.params)
            cur.execute("START SLAVE")

    def _bootstrap(self, primary: SandboxServer) -> None:
        """Accounts, schemas and the heartbeat table, created on the primary and replicated."""
        creds = self.credentials()
        with self._root(primary, Account("root", "")) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT user, host FROM mysql.user WHERE user IN ('root', '') "
                "AND host <> 'localhost'"
            )
            for user, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (user, host))
            for role, (user, env) in SANDBOX_ACCOUNTS.items():
                password = creds[f"{env}_PASSWORD"]
                if role == "root":
                    continue
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, SANDBOX_HOST, password))
                who = f"'{user}'@'{SANDBOX_HOST}'"
                for grant in GRANTS[role]:
                    cur.execute(grant.format(who=who))
            for statement in MariaDB.create_heartbeat:
                cur.execute(statement.sql)
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{SANDBOX_APP_SCHEMA}`")

    def _wait_applied(self, replica: SandboxServer, root: Account, position: str) -> None:
        with self._root(replica, root) as conn, conn.cursor() as cur:
            cur.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (position, SANDBOX_START_TIMEOUT))
            if cur.fetchone()[0] != 0:
                raise SandboxError(
                    f"{replica.name} did not receive the primary's setup within "
                    f"{SANDBOX_START_TIMEOUT:g} s: " + self._log_tail(replica)
                )

    def _running(self, server: SandboxServer) -> bool:
        proc = self._procs.get(server.name)
        if proc is not None and proc.poll() is not None:
            return False
        pid = _read_pid(server.pid_file)
        return pid is not None and _alive(pid)

    def status(self) -> list[ServerStatus]:
        if not self.topology_file.is_file():
            return []
        return [
            ServerStatus(s.name, s.port, _read_pid(s.pid_file), self._running(s))
            for s in self.servers()
        ]

    def start_server(self, name: str) -> None:
        """Start one stopped server again (it comes back read-only, replicating as before)."""
        server = self.server(name)
        if not self._running(server):
            self._start(server)

    def kill_server(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one server abruptly (SIGKILL) or cleanly (SIGTERM) and wait until it is gone."""
        self._stop(self.server(name), sig)

    def _stop(self, server: SandboxServer, sig: int) -> None:
        pid = _read_pid(server.pid_file)
        proc = self._procs.pop(server.name, None)
        if pid is None and proc is not None:
            pid = proc.pid
        if pid is None or not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + SANDBOX_STOP_TIMEOUT
        while time.monotonic() < deadline:
            if proc is not None:
                proc.poll()
            if not _alive(pid):
                server.pid_file.unlink(missing_ok=True)
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=SANDBOX_STOP_TIMEOUT)

    def down(self) -> None:
        """Stop every server of the sandbox; its data stays for the next `up`."""
        if not self.topology_file.is_file():
            return
        servers = self.servers()
        with ThreadPoolExecutor(max_workers=max(1, len(servers))) as pool:
            list(pool.map(lambda s: self._stop(s, signal.SIGTERM), servers))

    def destroy(self) -> None:
        """Stop every server and delete the sandbox's directory."""
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)

    def sql(self, name: str, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement as root on a sandbox server (for demos and tests)."""
        with self._root(self.server(name), self.account("root")) as conn, conn.cursor() as cur:
            cur.execute(statement, args)
            return list(cur.fetchall())


_ENGINE_OPTIONS = (
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    # A killed process loses nothing with these: data is in the OS cache on commit.
    "--innodb-flush-log-at-trx-commit=2",
    "--sync-binlog=0",
    "--performance-schema=OFF",
)
