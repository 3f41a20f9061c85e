"""The topology lifeboat manages: servers, accounts (secrets from env) and connections."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors
import yaml
from pydantic import ValidationError

from lifeboat.errors import MissingCredential
from lifeboat.paths import DataHome
from lifeboat.topology_config import MySQLAccount, MySQLConfig
from replication.errors import ServerUnreachable, TopologyConfigError
from replication.settings import (
    CR_CONN_HOST_ERROR,
    SANDBOX_CREDENTIALS_FILE,
    SANDBOX_TOPOLOGY_FILE,
)


@dataclass(frozen=True)
class Server:
    """One named server and where it listens."""

    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Account:
    """A user and its password; the password never shows in repr or messages."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Topology:
    """Servers with the accounts and thresholds to probe and switch them."""

    servers: tuple[Server, ...]
    monitor: Account
    switch: Account
    replication: Account
    config: MySQLConfig
    # The connector's account (reads password hashes); None when its env vars are unset.
    connector: Account | None = None

    @property
    def connector_account(self) -> Account:
        if self.connector is None:
            names = self.config.connector.account
            raise MissingCredential(
                f"environment variables {names.user_env} and {names.password_env} must hold the "
                "connector account's user and password (lifeboat.yaml mysql.connector.account; "
                "its grant is in replication/README.md)"
            )
        return self.connector

    def connect(
        self, server: Server, account: Account, read_timeout: float | None = None
    ) -> pymysql.connections.Connection:
        """A connection with this topology's probe timeout and TLS setting."""
        return connect(
            server, account, self.config.probe_timeout, read_timeout, tls=self.config.tls
        )

    def server(self, name: str) -> Server:
        for server in self.servers:
            if server.name == name:
                return server
        known = ", ".join(s.name for s in self.servers)
        raise TopologyConfigError(f"no server named {name!r} in the topology; known: {known}")

    def by_address(self, host: str, port: int) -> Server | None:
        """The server listening at host:port, treating localhost and 127.0.0.1 alike."""
        wanted = (_normal_host(host), int(port))
        for server in self.servers:
            if (_normal_host(server.host), server.port) == wanted:
                return server
        return None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.servers]


def _normal_host(host: str) -> str:
    host = host.strip().lower()
    return "127.0.0.1" if host in {"localhost", "::1", "127.0.0.1"} else host


def _account(spec: MySQLAccount, environ: Mapping[str, str], role: str) -> Account:
    values = []
    for env, what in ((spec.user_env, "user"), (spec.password_env, "password")):
        value = environ.get(env)
        if not value:
            raise MissingCredential(
                f"environment variable {env} is not set: it must hold the {role} account's "
                f"{what} (named in lifeboat.yaml mysql.{role})"
            )
        values.append(value)
    return Account(user=values[0], password=values[1])


def from_config(config: MySQLConfig, environ: Mapping[str, str] | None = None) -> Topology:
    """A topology from the `mysql:` section, with secrets read from the environment now."""
    env = os.environ if environ is None else environ
    return Topology(
        servers=tuple(Server(name, s.host, s.port) for name, s in config.servers.items()),
        monitor=_account(config.monitor, env, "monitor"),
        switch=_account(config.switch, env, "switch"),
        replication=_account(config.replication, env, "replication"),
        config=config,
        connector=_optional_account(config.connector.account, env),
    )


def _optional_account(spec: MySQLAccount, environ: Mapping[str, str]) -> Account | None:
    user, password = environ.get(spec.user_env), environ.get(spec.password_env)
    return Account(user=user, password=password) if user and password else None


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (the sandbox's credentials file)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_config_file(path: Path) -> MySQLConfig:
    """A topology file holding a `mysql:` mapping (or the mapping itself)."""
    if not path.is_file():
        raise TopologyConfigError(f"{path}: no such topology file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return MySQLConfig.model_validate(raw.get("mysql", raw))
    except (yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise TopologyConfigError(f"{path}: not a valid topology description: {exc}") from None


def load_sandbox(home: Path) -> Topology:
    """The topology `lifeboat sandbox up` described under `<home>/sandbox/`."""
    root = DataHome(home).sandbox_dir
    topology_file = root / SANDBOX_TOPOLOGY_FILE
    if not topology_file.is_file():
        raise TopologyConfigError(f"no sandbox under {root}: start one with `lifeboat sandbox up`")
    environ = {**os.environ, **read_env_file(root / SANDBOX_CREDENTIALS_FILE)}
    return from_config(load_config_file(topology_file), environ)


def _tls_options(tls: str) -> dict[str, Any]:
    if tls == "disabled":
        return {"ssl_disabled": True}
    if tls == "required":
        return {"ssl_verify_cert": True, "ssl_verify_identity": True}
    return {}


def connect(
    server: Server,
    account: Account,
    timeout: float,
    read_timeout: float | None = None,
    dict_rows: bool = False,
    tls: str = "preferred",
) -> pymysql.connections.Connection:
    """An autocommit connection with short timeouts; failure raises ServerUnreachable."""
    try:
        return pymysql.connect(
            **_tls_options(tls),
            host=server.host,
            port=server.port,
            user=account.user,
            password=account.password,
            connect_timeout=timeout,
            read_timeout=read_timeout or timeout,
            write_timeout=read_timeout or timeout,
            autocommit=True,
            charset="utf8mb4",
            cursorclass=pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor,
        )
    except pymysql.MySQLError as exc:
        refused = exc.args[0] == CR_CONN_HOST_ERROR and "Connection refused" in str(exc.args[1])
        raise ServerUnreachable(
            f"{server.name} ({server.address}) did not accept a connection as "
            f"{account.user!r}: {describe_error(exc)}. Check that it is running and that the "
            "account exists with the grants in replication/README.md.",
            refused=refused,
        ) from None


def describe_error(exc: BaseException) -> str:
    """A pymysql error as '(code) message' without any statement text."""
    if isinstance(exc, pymysql.MySQLError) and len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}"
    return str(exc) or type(exc).__name__
