"""The `sandbox`, `ls`, `switch` and `failover` subcommands as a person runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lifeboat import cli as lifeboat_cli
from lifeboat.errors import EXIT_FOUND_PROBLEM, ConfigError
from lifeboat.paths import DataHome
from lifeboat.settings import HOME_ENV
from replication import cli
from replication.errors import SwitchRefused
from replication.sandbox import Sandbox
from tests.replication.conftest import MakeSandbox
from tests.replication.helpers import wait_replicating

REFUSED = cli.EXIT_CODES[SwitchRefused][0]


def run(*argv: str) -> int:
    """`lifeboat ARGV` as a person runs it: a failure is one message and its exit code."""
    return lifeboat_cli.main(list(argv))


@pytest.fixture(scope="module")
def sandbox(make_sandbox: MakeSandbox) -> Iterator[Sandbox]:
    sandbox = make_sandbox()
    assert sandbox.root == DataHome(sandbox.root.parent).sandbox_dir
    yield sandbox
    sandbox.destroy()


@pytest.fixture
def in_home(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The module's sandbox, with LIFEBOAT_HOME pointing at the directory that holds it."""
    monkeypatch.setenv(HOME_ENV, str(sandbox.root.parent))
    return sandbox


def _secrets(sandbox: Sandbox) -> list[str]:
    return [v for k, v in sandbox.credentials().items() if k.endswith("_PASSWORD")]


def test_ls_prints_the_topology_as_a_table(in_home: Sandbox, capsys: pytest.CaptureFixture) -> None:
    assert run("ls", "--sandbox") == 0

    out = capsys.readouterr().out
    header, alpha, beta, gamma = out.splitlines()[:4]
    assert header.split() == [
        "SERVER",
        "ROLE",
        "ADDRESS",
        "SOURCE",
        "IO/SQL",
        "LAG",
        "SBM",
        "GTID",
        "STATUS",
    ]
    assert alpha.split()[:2] == ["alpha", "primary"]
    assert beta.split()[:5:] == [
        "beta",
        "replica",
        f"127.0.0.1:{in_home.server('beta').port}",
        "alpha",
        "Yes/Yes",
    ]
    assert gamma.split()[-1] == "OK"
    assert "healthy: primary alpha" in out


def test_ls_shows_a_stopped_replica_as_stopped_not_as_a_lag(
    in_home: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    in_home.sql("gamma", "STOP SLAVE")
    try:
        run("ls", "--sandbox")
    finally:
        in_home.sql("gamma", "START SLAVE")
        wait_replicating(in_home, "gamma")
    gamma = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("gamma"))
    assert gamma.split()[4:6] == ["No/No", "stopped"]


def test_ls_exits_1_and_names_the_problem(in_home: Sandbox, capsys: pytest.CaptureFixture) -> None:
    in_home.sql("beta", "STOP SLAVE")
    in_home.sql("beta", "CHANGE MASTER TO MASTER_PASSWORD = 'wrong-password'")
    in_home.sql("beta", "START SLAVE")
    try:
        code = run("ls", "--sandbox")
    finally:
        repl = in_home.account("replication")
        in_home.sql("beta", "STOP SLAVE")
        in_home.sql("beta", "CHANGE MASTER TO MASTER_PASSWORD = %s", (repl.password,))
        in_home.sql("beta", "START SLAVE")
        wait_replicating(in_home, "beta")  # the next test switches to beta

    out = capsys.readouterr().out
    # The IO thread may still be connecting on the first probe or already failed.
    assert code == EXIT_FOUND_PROBLEM
    assert "ERROR replication_broken: replication on beta is broken" in out
    assert "wrong-password" not in out


def test_switch_prints_each_step_and_records_it(
    in_home: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    assert run("switch", "--sandbox", "--to", "beta") == 0
    assert run("switch", "--sandbox") == 0  # picks the most advanced replica by itself

    out = capsys.readouterr().out
    assert out.startswith(
        "SELECTED REPLICA: beta\n"
        "PURGE REMAINING ACTIVE SESSIONS ON CURRENT PRIMARY 'alpha'\n"
        "FLUSH TRANSACTIONS ON CURRENT PRIMARY 'alpha'\n"
        "PUT THE NEW PRIMARY 'beta' ONLINE\n"
        "PUT THE PRIOR PRIMARY 'alpha' ONLINE AS A REPLICA\n"
        "RECONFIGURING REPLICA 'gamma' TO POINT TO NEW PRIMARY 'beta'\n"
        "SWITCH TO 'beta' WAS SUCCESSFUL (writes blocked "
    )
    assert out.count("WAS SUCCESSFUL") == 2
    for secret in _secrets(in_home):
        assert secret not in out
    history = in_home.root.parent / "mysql" / "history.jsonl"
    events = [json.loads(line) for line in history.read_text().splitlines()]
    assert [(e["source"], e["outcome"]) for e in events] == [
        ("alpha", "success"),
        ("beta", "success"),
    ]
    assert events[0]["steps"][0] == "SELECTED REPLICA: beta"
    for secret in _secrets(in_home):
        assert secret not in history.read_text()


def test_switch_refusal_exits_with_its_code_and_a_reason(
    in_home: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    primary = _primary(in_home)
    assert run("switch", "--sandbox", "--to", primary) == REFUSED
    assert f"refusing to switch: {primary} is already the primary" in capsys.readouterr().err


def test_failover_refuses_while_the_primary_lives(
    in_home: Sandbox, capsys: pytest.CaptureFixture
) -> None:
    assert run("failover", "--sandbox", "--yes") == REFUSED
    assert "is a writable primary and answers" in capsys.readouterr().err


def test_sandbox_status(in_home: Sandbox, capsys: pytest.CaptureFixture) -> None:
    assert run("sandbox", "status") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["alpha", "beta", "gamma"]
    assert all("running (pid " in line for line in lines)


def test_commands_without_a_topology_say_how_to_get_one(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert run("ls") == ConfigError.exit_code
    assert "lifeboat sandbox up" in capsys.readouterr().err
    assert run("sandbox", "status") == EXIT_FOUND_PROBLEM


def _primary(sandbox: Sandbox) -> str:
    for server in sandbox.servers():
        if sandbox.sql(server.name, "SELECT @@global.read_only") == [(0,)]:
            return server.name
    raise AssertionError("no primary")


def test_ls_reads_the_topology_from_lifeboat_yaml(
    in_home: Sandbox, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    servers = "\n".join(
        f"    {s.name}: {{host: 127.0.0.1, port: {s.port}}}" for s in in_home.servers()
    )
    config = tmp_path / "lifeboat.yaml"
    config.write_text(
        "mysql:\n"
        "  servers:\n" + servers + "\n"
        "  monitor: {user_env: SHOP_DB_MONITOR_USER, password_env: SHOP_DB_MONITOR_PASSWORD}\n"
        "  tls: disabled\n"
        "  lag_threshold: 2s\n"
    )
    monitor = in_home.account("monitor")
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(config))
    monkeypatch.setenv("SHOP_DB_MONITOR_USER", monitor.user)
    monkeypatch.setenv("SHOP_DB_MONITOR_PASSWORD", monitor.password)
    for role in ("switch", "replication"):
        account = in_home.account(role)
        monkeypatch.setenv(f"LIFEBOAT_MYSQL_{role.upper()}_USER", account.user)
        monkeypatch.setenv(f"LIFEBOAT_MYSQL_{role.upper()}_PASSWORD", account.password)

    assert run("ls") == 0
    assert "every replica within 2 s" in capsys.readouterr().out

    monkeypatch.delenv("SHOP_DB_MONITOR_PASSWORD")
    assert run("ls") == ConfigError.exit_code
    assert "SHOP_DB_MONITOR_PASSWORD is not set" in capsys.readouterr().err

    config.write_text("mysql:\n  servers: {}\n  surprise: 1\n")
    assert run("ls") == ConfigError.exit_code
    err = capsys.readouterr().err
    assert str(config) in err and "mysql.surprise" in err
