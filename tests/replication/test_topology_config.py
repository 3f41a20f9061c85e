"""The `mysql:` section of lifeboat.yaml: defaults, durations and mistakes named plainly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lifeboat.errors import MissingCredential
from lifeboat.topology_config import MySQLConfig
from replication.topology import from_config


def _config(**extra: object) -> MySQLConfig:
    return MySQLConfig.model_validate(
        {"servers": {"alpha": {"host": "db1"}, "beta": {"host": "db2", "port": 3307}}, **extra}
    )


def test_defaults_are_safe() -> None:
    config = _config()
    assert config.servers["alpha"].port == 3306
    assert config.automatic_failover is False
    assert config.lag_threshold == 5.0
    assert config.monitor.password_env == "LIFEBOAT_MYSQL_MONITOR_PASSWORD"
    assert config.tls == "preferred"
    with pytest.raises(ValidationError, match="'preferred', 'required' or 'disabled'"):
        _config(tls="sometimes")


def test_durations_read_like_a_person_writes_them() -> None:
    config = _config(lag_threshold="500ms", probe_timeout=3, failover_quiet_period="2h")
    assert (config.lag_threshold, config.probe_timeout) == (0.5, 3.0)
    assert config.failover_quiet_period == 7200.0
    with pytest.raises(ValidationError, match="expected a duration"):
        _config(lag_threshold="soon")


def test_unknown_fields_and_secrets_in_the_file_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _config(password="hunter2")
    with pytest.raises(ValidationError, match="must name an environment variable"):
        _config(monitor={"user_env": "LB_USER", "password_env": "hunter2 with spaces"})
    with pytest.raises(ValidationError, match="share the same host and port"):
        MySQLConfig.model_validate({"servers": {"alpha": {"host": "db1"}, "beta": {"host": "db1"}}})
    with pytest.raises(ValidationError, match="server name 'Alpha!'"):
        MySQLConfig.model_validate({"servers": {"Alpha!": {"host": "db1"}}})


def test_config_is_frozen() -> None:
    config = _config()
    with pytest.raises(ValidationError):
        config.lag_threshold = 1.0  # type: ignore[misc]


def test_secrets_come_from_the_environment_and_stay_hidden() -> None:
    environ = {
        "LIFEBOAT_MYSQL_MONITOR_USER": "mon",
        "LIFEBOAT_MYSQL_MONITOR_PASSWORD": "mon-secret",
        "LIFEBOAT_MYSQL_SWITCH_USER": "sw",
        "LIFEBOAT_MYSQL_SWITCH_PASSWORD": "sw-secret",
        "LIFEBOAT_MYSQL_REPLICATION_USER": "repl",
        "LIFEBOAT_MYSQL_REPLICATION_PASSWORD": "repl-secret",
    }
    topology = from_config(_config(), environ)
    assert topology.switch.user == "sw" and topology.switch.password == "sw-secret"
    assert "secret" not in repr(topology)
    del environ["LIFEBOAT_MYSQL_SWITCH_PASSWORD"]
    with pytest.raises(MissingCredential, match="LIFEBOAT_MYSQL_SWITCH_PASSWORD is not set"):
        from_config(_config(), environ)
