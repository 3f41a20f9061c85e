"""Switching the primary of a real topology: under writes, refusals, and rollbacks."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest

from bench.writer import Writer
from replication.errors import RollbackFailed, SwitchFailed, SwitchRefused
from replication.history import History
from replication.probe import Kind, probe
from replication.sandbox import Sandbox
from replication.switch import switch
from replication.topology import Account
from tests.replication.conftest import MakeSandbox
from tests.replication.helpers import rows_on, tuned, wait_replicated, wait_replicating

TUNGSTEN_STEPS = [
    "SELECTED REPLICA: {new}",
    "PURGE REMAINING ACTIVE SESSIONS ON CURRENT PRIMARY '{old}'",
    "FLUSH TRANSACTIONS ON CURRENT PRIMARY '{old}'",
    "PUT THE NEW PRIMARY '{new}' ONLINE",
    "PUT THE PRIOR PRIMARY '{old}' ONLINE AS A REPLICA",
    "RECONFIGURING REPLICA '{other}' TO POINT TO NEW PRIMARY '{new}'",
]


@pytest.fixture(scope="module")
def sandbox(make_sandbox: MakeSandbox) -> Iterator[Sandbox]:
    sandbox = make_sandbox()
    yield sandbox
    sandbox.destroy()


def assert_primary(sandbox: Sandbox, primary: str) -> None:
    """`primary` alone accepts writes, every other server replicates from it, nothing errant."""
    wait_replicated(sandbox, primary)
    health = probe(sandbox.topology())
    assert health.primary == primary
    assert health.findings == []
    assert all(s.errant == "" for s in health.servers.values())


def test_switch_to_beta_and_back_loses_no_acknowledged_write(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    topology = sandbox.topology()
    history = History(tmp_path / "history.jsonl")
    writer = Writer(sandbox)
    writer.start()
    lines: list[str] = []
    try:
        _wait_for_writes(writer, 50)
        there = switch(topology, to="beta", out=lines.append, history=history)
        _wait_for_writes(writer, len(writer.acked) + 50)
        back = switch(topology, to="alpha", out=lines.append, history=history)
        _wait_for_writes(writer, len(writer.acked) + 50)
    finally:
        writer.stop()

    assert (there.outcome, back.outcome) == ("success", "success")
    assert (back.source, back.target) == ("beta", "alpha")
    expected = [s.format(old="alpha", new="beta", other="gamma") for s in TUNGSTEN_STEPS]
    expected += [s.format(old="beta", new="alpha", other="gamma") for s in TUNGSTEN_STEPS]
    assert [line for line in lines if "WAS SUCCESSFUL" not in line] == expected
    done = [line for line in lines if "WAS SUCCESSFUL" in line]
    assert [
        re.fullmatch(
            r"SWITCH TO '(\w+)' WAS SUCCESSFUL \(writes blocked \d+ ms: "
            r"block \d+, end sessions \d+, catch-up \d+, open \d+\)",
            d,
        )[1]
        for d in done
    ] == ["beta", "alpha"]
    # The application really wrote through both primaries.
    assert writer.acked_on.get("alpha", 0) > 0 and writer.acked_on.get("beta", 0) > 0
    assert_primary(sandbox, "alpha")
    for name in ("alpha", "beta", "gamma"):
        missing = set(writer.acked) - rows_on(sandbox, name)
        assert not missing, f"{name} lacks acknowledged writes {sorted(missing)[:10]}"
    events = history.read()
    assert [(e["kind"], e["source"], e["target"], e["outcome"]) for e in events] == [
        ("switch", "alpha", "beta", "success"),
        ("switch", "beta", "alpha", "success"),
    ]
    assert all(e["blocked_ms"] > 0 and e["who"] for e in events)


def _wait_for_writes(writer: Writer, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(writer.acked) < count:
        assert writer.is_alive(), "the writer stopped"
        assert time.monotonic() < deadline, f"only {len(writer.acked)} writes acknowledged"
        time.sleep(0.01)


def test_refuses_a_lagging_target(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.sql("gamma", "STOP SLAVE")
    sandbox.sql("gamma", "CHANGE MASTER TO MASTER_DELAY = 3600")
    sandbox.sql("gamma", "START SLAVE")
    # Right after START SLAVE the IO thread says "Preparing": a switch then would be refused
    # as "not replicating", and the lag refusal would go unchecked.
    wait_replicating(sandbox, "gamma")
    history = History(tmp_path / "history.jsonl")
    try:
        with pytest.raises(SwitchRefused, match=r"refusing to switch to gamma: gamma lags beyond"):
            switch(tuned(sandbox.topology(), lag_threshold=1.0), to="gamma", history=history)
        unchanged = probe(sandbox.topology())
    finally:
        sandbox.sql("gamma", "STOP SLAVE")
        sandbox.sql("gamma", "CHANGE MASTER TO MASTER_DELAY = 0")
        sandbox.sql("gamma", "START SLAVE")

    assert unchanged.primary == "alpha"
    assert unchanged.servers["gamma"].source == "alpha"
    [event] = history.read()
    assert (event["outcome"], event["target"]) == ("refused", "gamma")
    assert "lags beyond" in event["reason"]
    assert_primary(sandbox, "alpha")


@contextmanager
def stalled_until_waited_for(sandbox: Sandbox, name: str, table: str) -> Iterator[threading.Event]:
    """`name` cannot apply writes to `table` until the switch waits for it to catch up.

    A session on `name` holds `table` read-locked, so its SQL thread stalls on the first
    replicated write to it. A watcher ends the hold once the switch account runs
    MASTER_GTID_WAIT on `name`: the target lags at the very moment of the switch, and only a
    switch that waits for it sees it catch up. The event is set when the hold ended there.
    """
    root = sandbox.account("root")
    socket = str(sandbox.server(name).socket)
    holder = pymysql.connect(unix_socket=socket, user=root.user, password=root.password)
    watcher = pymysql.connect(
        unix_socket=socket, user=root.user, password=root.password, autocommit=True
    )
    with holder.cursor() as cur:
        cur.execute(f"LOCK TABLES {table} READ")
    waited_for = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with watcher.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM information_schema.processlist "
                    "WHERE user = %s AND info LIKE %s",
                    (sandbox.account("switch").user, "SELECT MASTER_GTID_WAIT%"),
                )
                if cur.fetchone()[0]:
                    with holder.cursor() as unlock:
                        unlock.execute("UNLOCK TABLES")
                    waited_for.set()
                    return
            done.wait(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield waited_for
    finally:
        done.set()
        thread.join()
        holder.close()  # ends the hold if the switch never waited
        watcher.close()


def test_the_new_primary_has_every_write_the_old_one_acknowledged(fresh: Sandbox) -> None:
    """beta lags when the switch starts: it must apply alpha's last write before it opens."""
    fresh.sql("alpha", "CREATE TABLE app.ledger (id INT PRIMARY KEY)")
    wait_replicated(fresh, "alpha")
    app = fresh.account("app")
    writer = pymysql.connect(
        host="127.0.0.1",
        port=fresh.server("alpha").port,
        user=app.user,
        password=app.password,
        autocommit=True,
    )

    def out(line: str) -> None:
        if line.startswith("PURGE REMAINING ACTIVE SESSIONS"):
            # Acknowledged on alpha after the checks and the catch-up, right before writes
            # are blocked; beta cannot apply it yet.
            with writer.cursor() as cur:
                cur.execute("INSERT INTO app.ledger VALUES (1)")

    try:
        with stalled_until_waited_for(fresh, "beta", "app.ledger") as waited_for:
            report = switch(fresh.topology(), to="beta", out=out)
    finally:
        writer.close()

    assert waited_for.is_set(), "the switch never waited for beta to catch up"
    assert report.outcome == "success"
    assert (1,) in fresh.sql("beta", "SELECT id FROM app.ledger")
    assert_primary(fresh, "beta")
    for name in ("alpha", "gamma"):
        assert (1,) in fresh.sql(name, "SELECT id FROM app.ledger")


def test_refuses_while_a_long_write_is_open(sandbox: Sandbox) -> None:
    app = sandbox.account("app")
    port = sandbox.server("alpha").port
    sandbox.sql("alpha", "CREATE TABLE IF NOT EXISTS app.ledger (id INT PRIMARY KEY)")
    conn = pymysql.connect(host="127.0.0.1", port=port, user=app.user, password=app.password)
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("INSERT INTO app.ledger VALUES (1)")
        time.sleep(2.5)
        with pytest.raises(SwitchRefused, match=r"a write on alpha has run longer than 1 s"):
            switch(tuned(sandbox.topology(), long_write_limit=1.0), to="beta")
        # Nothing was touched: the open transaction still commits on alpha.
        conn.commit()
    finally:
        conn.close()
    assert_primary(sandbox, "alpha")
    assert (1,) in sandbox.sql("beta", "SELECT id FROM app.ledger")


def test_refuses_a_target_with_errant_transactions(fresh: Sandbox) -> None:
    fresh.sql("alpha", "CREATE TABLE app.orders (id INT PRIMARY KEY)")
    wait_replicated(fresh, "alpha")
    fresh.sql("beta", "INSERT INTO app.orders VALUES (7)")

    # A short lag threshold keeps the probe from waiting long on beta, which stops
    # replicating as soon as alpha's next transaction collides with the errant one.
    topology = tuned(fresh.topology(), lag_threshold=1.0)
    with pytest.raises(SwitchRefused, match=r"beta holds errant transactions 0-2-\d+"):
        switch(topology, to="beta")
    with pytest.raises(SwitchRefused, match=r"errant"):
        switch(topology)

    health = probe(topology)
    assert health.primary == "alpha"
    assert Kind.ERRANT in {f.kind for f in health.findings}
    # gtid_strict_mode stops beta at alpha's next transaction: the errant one is in its way.
    assert {f.server for f in health.findings} == {"beta"}


def test_rollback_when_the_target_is_killed_mid_switch(fresh: Sandbox) -> None:
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("FLUSH TRANSACTIONS"):
            fresh.kill_server("beta")

    writer = Writer(fresh)
    writer.start()
    try:
        _wait_for_writes(writer, 30)
        with pytest.raises(SwitchFailed, match=r"alpha is the primary again") as failed:
            switch(fresh.topology(), to="beta", out=out)
        _wait_for_writes(writer, len(writer.acked) + 30)
    finally:
        writer.stop()

    assert failed.value.report.outcome == "rolled_back"  # type: ignore[attr-defined]
    assert lines[-1].startswith("ROLLED BACK: 'alpha' IS THE PRIMARY")
    health = probe(fresh.topology())
    assert health.primary == "alpha"
    assert health.servers["gamma"].source == "alpha"
    assert health.servers["gamma"].heartbeat_applied is True
    assert {(f.kind, f.server) for f in health.findings} == {(Kind.UNREACHABLE, "beta")}

    fresh.start_server("beta")
    assert_primary(fresh, "alpha")
    for name in ("alpha", "beta", "gamma"):
        assert set(writer.acked) <= rows_on(fresh, name)


def test_rollback_after_the_target_took_writes(fresh: Sandbox) -> None:
    """gamma dies after beta opened for writes: beta's writes must come back to alpha."""
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if line.startswith("RECONFIGURING REPLICA 'gamma'"):
            # alpha already replicates from beta; stopped, it cannot receive what beta takes
            # now, so only the rollback can bring those writes back to it.
            fresh.sql("alpha", "STOP SLAVE")
            # Let the application write to the new primary before the step fails.
            deadline = time.monotonic() + 30
            while writer.acked_on.get("beta", 0) < 5 and time.monotonic() < deadline:
                time.sleep(0.005)
            fresh.kill_server("gamma")

    writer = Writer(fresh)
    writer.start()
    try:
        _wait_for_writes(writer, 30)
        with pytest.raises(SwitchFailed, match=r"alpha is the primary again"):
            switch(fresh.topology(), to="beta", out=out)
        _wait_for_writes(writer, len(writer.acked) + 30)
    finally:
        writer.stop()

    assert writer.acked_on.get("beta", 0) >= 5
    assert lines[-1].startswith("ROLLED BACK: 'alpha' IS THE PRIMARY")
    fresh.start_server("gamma")
    assert_primary(fresh, "alpha")
    for name in ("alpha", "beta", "gamma"):
        missing = set(writer.acked) - rows_on(fresh, name)
        assert not missing, f"{name} lacks acknowledged writes {sorted(missing)[:10]}"


def test_switch_ends_application_sessions_but_never_replication_threads(
    sandbox: Sandbox,
) -> None:
    app = sandbox.account("app")
    idle = pymysql.connect(
        host="127.0.0.1", port=sandbox.server("alpha").port, user=app.user, password=app.password
    )
    after_purge: list[tuple[str, str]] = []

    def out(line: str) -> None:
        if line.startswith("FLUSH TRANSACTIONS"):
            after_purge.extend(
                sandbox.sql("alpha", "SELECT user, command FROM information_schema.processlist")
            )

    try:
        switch(sandbox.topology(), to="beta", out=out)
        with pytest.raises(pymysql.OperationalError), idle.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        idle.close()
        switch(sandbox.topology(), to="alpha", out=lambda _line: None)

    users = {user for user, _ in after_purge}
    assert app.user not in users
    dumps = [user for user, command in after_purge if command.startswith("Binlog Dump")]
    assert dumps == [sandbox.account("replication").user] * 2
    assert_primary(sandbox, "alpha")


def test_target_killed_after_it_opened_leaves_every_server_waiting_for_it(
    fresh: Sandbox,
) -> None:
    def out(line: str) -> None:
        if line.startswith("PUT THE PRIOR PRIMARY"):
            fresh.kill_server("beta")

    with pytest.raises(RollbackFailed, match=r"run `lifeboat switch --to beta`") as failed:
        switch(fresh.topology(), to="beta", out=out)

    lines = failed.value.report.lines  # type: ignore[attr-defined]
    assert any(line.startswith("'beta' IS DOWN AFTER IT OPENED FOR WRITES") for line in lines)
    health = probe(fresh.topology())
    # Writes beta took exist only on beta: nobody may take writes before it is back.
    assert health.primary is None
    assert {health.servers[n].source for n in ("alpha", "gamma")} == {"beta"}

    fresh.start_server("beta")
    health = probe(fresh.topology())
    # Back from the dead, beta is read-only until the switch is finished.
    assert health.primary is None and health.servers["beta"].read_only is True
    wait_replicating(fresh, "alpha")
    wait_replicating(fresh, "gamma")
    report = switch(fresh.topology(), to="beta", out=lambda _line: None)
    assert report.lines[-1] == "SWITCH TO 'beta' WAS SUCCESSFUL (finished the switch that stopped)"
    assert_primary(fresh, "beta")


def test_refuses_when_the_replication_password_is_wrong_and_never_shows_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    topology = sandbox.topology()
    wrong = "not-the-password-1234"
    bad = dataclasses.replace(topology, replication=Account(topology.replication.user, wrong))
    history = History(tmp_path / "history.jsonl")
    lines: list[str] = []

    with pytest.raises(SwitchRefused, match="LIFEBOAT_SANDBOX_REPLICATION_PASSWORD") as refused:
        switch(bad, to="beta", out=lines.append, history=history)

    assert "cannot log in to beta" in str(refused.value)
    assert lines == []
    for secret in (wrong, topology.replication.password, topology.switch.password):
        assert secret not in str(refused.value)
        assert secret not in history.path.read_text()
    assert_primary(sandbox, "alpha")


def test_refuses_while_another_switch_holds_the_lock(sandbox: Sandbox) -> None:
    root = sandbox.account("root")
    holder = pymysql.connect(
        unix_socket=str(sandbox.server("alpha").socket), user=root.user, password=root.password
    )
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK('lifeboat.switch', 0)")
            assert cur.fetchone() == (1,)
        with pytest.raises(SwitchRefused, match="another switch holds the lock on alpha"):
            switch(sandbox.topology(), to="beta")
    finally:
        holder.close()
    assert_primary(sandbox, "alpha")
