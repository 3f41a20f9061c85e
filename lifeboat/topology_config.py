"""The `mysql:` section of lifeboat.yaml: the business's own MySQL topology."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from lifeboat.secrets import env_name_problem

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SERVER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _seconds(value: Any) -> float:
    """Read '500ms', '5s', '2m', '1h' or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _SECONDS.match(value)
        if match:
            return float(match.group(1)) * _UNIT[match.group(2)]
    raise ValueError("expected a duration such as '500ms', '5s' or '2m'")


# A day is far past any threshold a topology check needs; infinity would break the sensors.
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0, le=86_400, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MySQLServer(_Model):
    """Where one server of the topology listens."""

    host: str = Field(min_length=1)
    port: int = Field(default=3306, ge=1, le=65535)


class MySQLAccount(_Model):
    """Names of the environment variables that hold one account's user and password."""

    user_env: str
    password_env: str

    @field_validator("user_env", "password_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if problem := env_name_problem(value):
            raise ValueError(problem)
        return value


class ConnectorConfig(_Model):
    """Where the lifeboat connector listens for applications and how it moves their sessions."""

    host: str = Field(
        default="127.0.0.1",
        description="Address the connector binds to; 0.0.0.0 only behind a firewall.",
    )
    writer_port: int = Field(
        default=6446, ge=1, le=65535, description="Port that always reaches the current primary."
    )
    reader_port: int = Field(
        default=6447,
        ge=1,
        le=65535,
        description="Port that spreads sessions over healthy replicas within the lag threshold.",
    )
    account: MySQLAccount = Field(
        default=MySQLAccount(
            user_env="LIFEBOAT_MYSQL_CONNECTOR_USER",
            password_env="LIFEBOAT_MYSQL_CONNECTOR_PASSWORD",
        ),
        description="Account that reads the servers' password hashes to verify applications.",
    )
    drain_limit: Seconds = Field(
        default=2.0,
        description="How long a switch lets open transactions finish before ending them.",
    )
    hold_timeout: Seconds = Field(
        default=30.0,
        description="Held sessions longer than this are released to whichever server is the "
        "primary then (a switch that died midway never strands them).",
    )
    failover_wait: Seconds = Field(
        default=120.0,
        description="How long sessions wait for a new primary after the primary died, before "
        "they get an error.",
    )
    tls_cert: str | None = Field(
        default=None, description="PEM certificate offered to applications (TLS optional)."
    )
    tls_key: str | None = Field(default=None, description="Its private key (PEM).")


class MySQLConfig(_Model):
    """Servers of the primary/replica topology and the thresholds lifeboat checks them by."""

    servers: dict[str, MySQLServer] = Field(
        min_length=1, description="Server name (alpha, beta, ...) -> host and port."
    )
    monitor: MySQLAccount = Field(
        default=MySQLAccount(
            user_env="LIFEBOAT_MYSQL_MONITOR_USER", password_env="LIFEBOAT_MYSQL_MONITOR_PASSWORD"
        ),
        description="Account of the health probe (writes heartbeats; obeys read_only).",
    )
    switch: MySQLAccount = Field(
        default=MySQLAccount(
            user_env="LIFEBOAT_MYSQL_SWITCH_USER", password_env="LIFEBOAT_MYSQL_SWITCH_PASSWORD"
        ),
        description="Account that blocks writes, ends sessions and reconfigures replication.",
    )
    replication: MySQLAccount = Field(
        default=MySQLAccount(
            user_env="LIFEBOAT_MYSQL_REPLICATION_USER",
            password_env="LIFEBOAT_MYSQL_REPLICATION_PASSWORD",
        ),
        description="Account replicas use to connect to the primary.",
    )
    tls: Literal["preferred", "required", "disabled"] = Field(
        default="preferred",
        description="preferred: encrypt when the server offers TLS; required: encrypt and verify "
        "the server's certificate and name; disabled: plain TCP (local sandbox only).",
    )
    lag_threshold: Seconds = Field(default=5.0, description="Heartbeat lag a replica may have.")
    probe_timeout: Seconds = Field(default=2.0, description="Connect/read timeout of a probe.")
    long_write_limit: Seconds = Field(
        default=10.0, description="A write open longer than this on the primary blocks a switch."
    )
    catch_up_timeout: Seconds = Field(
        default=10.0, description="How long a switch waits for the target to apply everything."
    )
    connector: ConnectorConfig = Field(
        default=ConnectorConfig(),
        description="The lifeboat connector: applications connect to it instead of a server.",
    )
    sensor_interval: Seconds = Field(default=30.0, description="How often the sensor probes.")
    automatic_failover: bool = Field(
        default=False, description="Fail over by itself when the primary is dead."
    )
    failover_quiet_period: Seconds = Field(
        default=3600.0, description="At most one automatic failover within this period."
    )

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, MySQLServer]) -> dict[str, MySQLServer]:
        for name in value:
            if not _SERVER_NAME.match(name):
                raise ValueError(
                    f"server name {name!r} must be lowercase letters, digits, '-' or '_' "
                    "and start with a letter (like 'alpha')"
                )
        addresses = [(s.host, s.port) for s in value.values()]
        if len(set(addresses)) != len(addresses):
            raise ValueError("two servers share the same host and port")
        return value
