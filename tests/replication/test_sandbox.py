"""The sandbox: a real topology that starts, stops, restarts and describes itself."""

from __future__ import annotations

import os
import stat

import pymysql
import pytest

from replication.probe import probe
from replication.sandbox import Sandbox
from replication.settings import ER_OPTION_PREVENTS_STATEMENT
from replication.switch import switch
from replication.topology import load_sandbox
from tests.replication.helpers import wait_replicated

ER_SPECIFIC_ACCESS_DENIED = 1227


def test_up_describes_itself_and_keeps_secrets_out_of_the_description(fresh: Sandbox) -> None:
    topology = load_sandbox(fresh.root.parent)

    assert topology.names == ["alpha", "beta", "gamma"]
    assert len({s.port for s in topology.servers}) == 3
    assert topology.monitor.user == "lifeboat_monitor"
    assert topology.switch.user == "lifeboat_switch"
    described = fresh.topology_file.read_text()
    for value in fresh.credentials().values():
        if value.startswith("lifeboat_") or value == "root":
            continue
        assert value not in described
        assert value not in repr(topology)
    assert stat.S_IMODE(os.stat(fresh.credentials_file).st_mode) == 0o600
    assert [s.running for s in fresh.status()] == [True, True, True]
    assert probe(topology).ok


def _connect(sandbox: Sandbox, role: str, name: str = "alpha") -> pymysql.connections.Connection:
    account = sandbox.account(role)
    return pymysql.connect(
        host="127.0.0.1",
        port=sandbox.server(name).port,
        user=account.user,
        password=account.password,
        autocommit=True,
    )


def _error_code(sandbox: Sandbox, role: str, statement: str, name: str = "alpha") -> int | None:
    conn = _connect(sandbox, role, name)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
        return None
    except pymysql.MySQLError as exc:
        return int(exc.args[0])
    finally:
        conn.close()


def test_accounts_have_least_privilege(fresh: Sandbox) -> None:
    heartbeat = "UPDATE lifeboat.heartbeat SET ts = UTC_TIMESTAMP(6)"
    # The monitor cannot change the topology, and read_only stops its heartbeat writes,
    # so a probe can never write into a primary a switch has just blocked.
    assert _error_code(fresh, "monitor", "SET GLOBAL read_only = ON") == ER_SPECIFIC_ACCESS_DENIED
    assert _error_code(fresh, "monitor", "STOP SLAVE", "beta") is not None
    assert _error_code(fresh, "monitor", "KILL 1") is not None
    assert _error_code(fresh, "monitor", heartbeat, "beta") == ER_OPTION_PREVENTS_STATEMENT
    assert _error_code(fresh, "monitor", "CREATE TABLE app.x (id INT)") is not None
    # The application cannot write on a read-only replica nor touch replication.
    assert _error_code(fresh, "app", "CREATE TABLE app.t (id INT)", "beta") == (
        ER_OPTION_PREVENTS_STATEMENT
    )
    assert _error_code(fresh, "app", "STOP SLAVE", "beta") is not None
    # The switch account has what a switch needs, and no more.
    assert _error_code(fresh, "switch", "SHOW SLAVE STATUS", "beta") is None
    assert _error_code(fresh, "switch", "SELECT * FROM information_schema.innodb_trx") is None
    assert _error_code(fresh, "switch", "CREATE TABLE app.y (id INT)") is not None
    assert _error_code(fresh, "switch", "SELECT * FROM mysql.user") is not None


def test_down_and_up_keeps_data_and_the_current_primary(fresh: Sandbox) -> None:
    fresh.sql("alpha", "CREATE TABLE app.kept (id INT PRIMARY KEY)")
    fresh.sql("alpha", "INSERT INTO app.kept VALUES (1), (2), (3)")
    switch(fresh.topology(), to="beta", out=lambda _line: None)
    pids = [s.pid for s in fresh.status()]

    fresh.down()

    assert [s.running for s in fresh.status()] == [False, False, False]
    assert not any(pid and os.path.exists(f"/proc/{pid}") and _not_zombie(pid) for pid in pids)
    fresh.up()
    health = probe(fresh.topology())
    assert health.primary == "beta"
    assert health.findings == []
    wait_replicated(fresh, "beta")
    for name in ("alpha", "beta", "gamma"):
        assert fresh.sql(name, "SELECT COUNT(*) FROM app.kept") == [(3,)]


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("role", ["root", "app"])
def test_credentials_are_only_in_the_private_file(fresh: Sandbox, role: str) -> None:
    password = fresh.account(role).password
    assert password in fresh.credentials_file.read_text()
    assert password not in fresh.topology_file.read_text()
