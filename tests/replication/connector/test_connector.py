"""The connector as applications meet it: login, the protocol, and sessions kept across moves."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mysql.connector
import pymysql
import pytest
from pymysql.constants.COMMAND import COM_BINLOG_DUMP

from replication.connector.control import ConnectorSessions, registry_dir
from replication.connector.service import Connector
from replication.probe import probe
from replication.sandbox import Sandbox
from replication.settings import SANDBOX_APP_SCHEMA
from tests.replication.conftest import MakeSandbox
from tests.replication.connector.conftest import Connected
from tests.replication.helpers import wait_replicated


def connect(connected: Connected, port: int | None = None, **options: object) -> pymysql.Connection:
    app = connected.app
    settings: dict[str, object] = {
        "host": connected.host,
        "port": port or connected.writer_port,
        "user": app.user,
        "password": app.password,
        "database": SANDBOX_APP_SCHEMA,
        "autocommit": True,
        **options,
    }
    return pymysql.connect(**settings)  # type: ignore[arg-type]


@contextmanager
def own_connector(
    make_sandbox: MakeSandbox, **settings: object
) -> Iterator[tuple[Sandbox, Connector]]:
    """A topology of one's own and a connector before it with other `mysql.connector` settings."""
    sandbox = make_sandbox()
    topology = sandbox.topology()
    connector_settings = topology.config.connector.model_copy(update=settings)
    topology = dataclasses.replace(
        topology, config=topology.config.model_copy(update={"connector": connector_settings})
    )
    connector = Connector(topology, home=sandbox.root.parent, writer_port=0, reader_port=0)
    connector.start()
    try:
        yield sandbox, connector
    finally:
        connector.stop()
        sandbox.destroy()


def connect_mysql_connector(connected: Connected) -> Any:
    """mysql-connector-python's pure-Python connection, in the app schema, autocommit on."""
    app = connected.app
    return mysql.connector.connect(
        host=connected.host,
        port=connected.writer_port,
        user=app.user,
        password=app.password,
        database=SANDBOX_APP_SCHEMA,
        autocommit=True,
    )


def one(conn: pymysql.Connection, sql: str, args: object = None) -> tuple:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def other_than(primary: str) -> str:
    return "beta" if primary != "beta" else "alpha"


def test_applications_log_in_with_their_own_accounts_and_nothing_else(
    connected: Connected,
) -> None:
    conn = connect(connected)
    assert one(conn, "SELECT CURRENT_USER()")[0].startswith(connected.app.user + "@")
    conn.close()
    denied = "SHOW GLOBAL STATUS LIKE 'Access_denied_errors'"
    denied_before = int(connected.sandbox.sql("alpha", denied)[0][1])
    with pytest.raises(pymysql.err.OperationalError) as wrong:
        connect(connected, password="not-the-password")
    assert wrong.value.args[0] == 1045
    # Refused by the connector itself: a wrong answer never reaches a server.
    assert int(connected.sandbox.sql("alpha", denied)[0][1]) == denied_before
    assert "Access denied for user 'lifeboat_app'" in wrong.value.args[1]
    assert "not-the-password" not in str(wrong.value)
    with pytest.raises(pymysql.err.OperationalError) as unknown:
        connect(connected, user="nobody_here")
    assert unknown.value.args[0] == 1045
    # The connector's registration (its control token) is readable by its owner alone.
    (registration,) = registry_dir(connected.home).glob("*.json")
    assert stat.S_IMODE(registration.stat().st_mode) == 0o600


def test_a_session_keeps_its_connection_and_state_across_switches(connected: Connected) -> None:
    conn = connect(connected, charset="utf8mb4")
    thread_id = conn.thread_id()
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (id INT PRIMARY KEY AUTO_INCREMENT, body VARCHAR(50))")
        cur.execute("SET NAMES utf8mb4 COLLATE utf8mb4_bin")
        cur.execute("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'")
        cur.execute("SET time_zone = '+05:00', div_precision_increment = 9")
        cur.execute("SET @greeting = 'grüße', @answer = 42, @ratio = 1.25")
    expected = one(
        conn,
        "SELECT @@collation_connection, @@sql_mode, @@time_zone, "
        "@@div_precision_increment, @greeting, @answer, @ratio, DATABASE()",
    )
    primary = "alpha"
    for round_ in range(4):
        target = other_than(primary)
        report = connected.switch(to=target)
        assert report.outcome == "success"
        primary = target
        with conn.cursor() as cur:
            cur.execute("INSERT INTO notes (body) VALUES (%s)", (f"after switch {round_}",))
        state = one(
            conn,
            "SELECT @@collation_connection, @@sql_mode, @@time_zone, "
            "@@div_precision_increment, @greeting, @answer, @ratio, DATABASE()",
        )
        assert state == expected
        assert one(conn, "SELECT @@port")[0] == connected.topology.server(primary).port
        assert conn.thread_id() == thread_id
    wait_replicated(connected.sandbox, primary)
    rows = connected.sandbox.sql(primary, f"SELECT body FROM `{SANDBOX_APP_SCHEMA}`.notes")
    assert [r[0] for r in rows] == [f"after switch {i}" for i in range(4)]


def test_a_client_without_session_tracking_gets_plain_ok_packets(connected: Connected) -> None:
    """pymysql does not ask for CLIENT_SESSION_TRACK; the connector does, of the server, and
    must hand pymysql OK packets as a server would have written them for it."""
    conn = connect(connected)
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+02:00'")
        assert not conn.server_status & 0x4000  # SERVER_SESSION_STATE_CHANGED
        cur.execute("CREATE TABLE flags (n INT)")
        cur.execute("INSERT INTO flags VALUES (1), (2)")
        cur.execute("UPDATE flags SET n = n + 10")
    assert conn._result.message == b"Rows matched: 2  Changed: 2  Warnings: 0"


def test_prepared_statements_follow_the_session(connected: Connected) -> None:
    conn = connect_mysql_connector(connected)
    cur = conn.cursor(prepared=True)
    cur.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(8,2))")
    insert = "INSERT INTO items VALUES (?, ?, ?)"
    select = "SELECT name, price FROM items WHERE id = ?"
    cur.execute(insert, (1, "anchor", 10.5))
    primary = "alpha"
    for n in range(2, 5):
        primary = other_than(primary)
        assert connected.switch(to=primary).outcome == "success"
        cur.execute(insert, (n, f"oar {n}", n * 1.5))
        cur.execute(select, (n,))
        assert cur.fetchall() == [(f"oar {n}", pytest.approx(n * 1.5))]
    cur.execute("SELECT COUNT(*) FROM items")
    assert cur.fetchall() == [(4,)]
    conn.close()


def test_a_transaction_open_past_the_drain_limit_is_ended_and_its_session_kept(
    connected: Connected,
) -> None:
    slow = connect(connected, autocommit=False)
    idle = connect(connected)
    with slow.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS ledger (n INT)")
        cur.execute("INSERT INTO ledger VALUES (1)")  # open, never committed before the switch
    report = connected.switch(to="beta")
    assert report.outcome == "success"
    assert (report.sessions_kept, report.sessions_ended) == (1, 1)
    with pytest.raises(pymysql.err.OperationalError) as ended, slow.cursor() as cur:
        cur.execute("COMMIT")
    assert ended.value.args[0] == 1213
    assert "rolled back" in ended.value.args[1]
    # The same connection goes on, on the new primary; the uncommitted row is nowhere.
    assert one(slow, "SELECT @@port")[0] == connected.topology.server("beta").port
    assert one(slow, "SELECT COUNT(*) FROM ledger")[0] == 0
    assert one(idle, "SELECT 1")[0] == 1


def test_sessions_wait_for_a_running_transaction_to_commit(connected: Connected) -> None:
    conn = connect(connected, autocommit=False)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS ledger (n INT)")
        cur.execute("INSERT INTO ledger VALUES (7)")
    committed = threading.Timer(0.3, conn.commit)
    committed.start()
    report = connected.switch(to="beta")
    committed.join()
    assert report.outcome == "success"
    assert report.sessions_ended == 0
    wait_replicated(connected.sandbox, "beta")
    assert connected.sandbox.sql("beta", "SELECT n FROM app.ledger") == [(7,)]


def test_a_failover_moves_sessions_and_ends_only_the_open_transaction(
    connected: Connected,
) -> None:
    steady = connect(connected)
    open_tx = connect(connected, autocommit=False)
    with steady.cursor() as cur:
        cur.execute("CREATE TABLE events (id INT PRIMARY KEY)")
        cur.execute("SET @who = 'steady'")
        cur.execute("INSERT INTO events VALUES (1)")
    with open_tx.cursor() as cur:
        cur.execute("INSERT INTO events VALUES (2)")
    wait_replicated(connected.sandbox, "alpha")
    connected.sandbox.kill_server("alpha")
    report = connected.failover()
    new = report.target
    assert new in ("beta", "gamma")
    # The steady session keeps its connection and its variables on the new primary.
    assert one(steady, "SELECT @who, @@port") == ("steady", connected.topology.server(new).port)
    with steady.cursor() as cur:
        cur.execute("INSERT INTO events VALUES (3)")
    with pytest.raises(pymysql.err.OperationalError) as lost, open_tx.cursor() as cur:
        cur.execute("COMMIT")
    assert lost.value.args[0] == 1213
    assert one(open_tx, "SELECT COUNT(*) FROM events")[0] == 2  # rows 1 and 3


def test_held_sessions_go_on_by_themselves_when_no_switch_releases_them(
    make_sandbox: MakeSandbox,
) -> None:
    with own_connector(make_sandbox, hold_timeout=1.0) as (sandbox, connector):
        home = sandbox.root.parent
        app = sandbox.account("app")
        conn = pymysql.connect(
            host="127.0.0.1",
            port=connector.writer_port,
            user=app.user,
            password=app.password,
            autocommit=True,
        )
        ConnectorSessions(home).hold(0.5)  # a switch that dies before it releases
        started = time.monotonic()
        assert one(conn, "SELECT 1")[0] == 1
        waited = time.monotonic() - started
        assert 0.5 < waited < 20


def test_the_reader_port_reaches_a_replica(connected: Connected) -> None:
    conn = connect(connected, port=connected.reader_port)
    port, read_only = one(conn, "SELECT @@port, @@read_only")
    replicas = {connected.topology.server(n).port for n in ("beta", "gamma")}
    assert port in replicas
    assert read_only == 1


def test_results_and_statements_over_16_mb_pass_whole(connected: Connected) -> None:
    for server in ("alpha", "beta", "gamma"):
        connected.sandbox.sql(server, "SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
    conn = connect(connected, max_allowed_packet=64 * 1024 * 1024)
    blob = bytes(range(256)) * (17 * 4096)  # 17 MB, every byte value
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE blobs (id INT PRIMARY KEY, body LONGBLOB)")
        cur.execute("INSERT INTO blobs VALUES (1, %s)", (blob,))
        cur.execute("SELECT body, LENGTH(body) FROM blobs WHERE id = 1")
        body, length = cur.fetchone()
    assert length == len(blob) and body == blob
    assert one(conn, "SELECT 1")[0] == 1


def test_multiple_result_sets_and_what_is_refused(connected: Connected, tmp_path: Path) -> None:
    conn = connect(connected, client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    with conn.cursor() as cur:
        cur.execute("CREATE PROCEDURE two() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END")
        cur.execute("CALL two()")
        first = cur.fetchall()
        assert cur.nextset()
        second = cur.fetchall()
        assert (first, second) == (((1,),), ((2, 3),))
        while cur.nextset():
            pass
        cur.execute("SELECT 'x'; SELECT 'y'")
        assert cur.fetchall() == (("x",),)
        assert cur.nextset() and cur.fetchall() == (("y",),)
    conn.close()
    data = tmp_path / "rows.csv"
    data.write_text("1\n")
    local = connect(connected, local_infile=True)
    with pytest.raises(pymysql.MySQLError) as refused, local.cursor() as cur:
        cur.execute("CREATE TABLE loaded (n INT)")
        cur.execute(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE loaded")
    # The server's own refusal (local infile capability disabled): the connector does not
    # offer it, so a file on the application's host is never read.
    assert refused.value.args[0] == 4166, refused.value
    assert one(local, "SELECT 1")[0] == 1  # refused, not hung, and the connection is fine
    local._execute_command(COM_BINLOG_DUMP, b"\x00" * 10)
    with pytest.raises(pymysql.err.OperationalError) as unsupported:
        local._read_ok_packet()
    assert unsupported.value.args[0] == 1047
    assert "command 0x12 is not supported" in unsupported.value.args[1]
    assert one(local, "SELECT 2")[0] == 2


def test_ping_reset_and_change_user(connected: Connected) -> None:
    conn = connect_mysql_connector(connected)
    cur = conn.cursor()
    cur.execute("SET @kept = 1")
    conn.ping(reconnect=False)
    conn.cmd_reset_connection()
    cur.execute("SELECT @kept, DATABASE()")
    assert cur.fetchall() == [(None, SANDBOX_APP_SCHEMA)]
    app = connected.app
    conn.cmd_change_user(username=app.user, password=app.password, database="")
    cur = conn.cursor()
    cur.execute("SELECT DATABASE(), CURRENT_USER()")
    db, user = cur.fetchall()[0]
    assert db is None and user.startswith(app.user)
    assert connected.switch(to="beta").outcome == "success"
    cur.execute("SELECT @@port")
    assert cur.fetchall() == [(connected.topology.server("beta").port,)]


def test_switch_output_counts_the_sessions(connected: Connected) -> None:
    conns = [connect(connected) for _ in range(3)]
    lines: list[str] = []
    from replication.switch import switch

    switch(connected.topology, to="gamma", out=lines.append, sessions=connected.sessions())
    text = "\n".join(lines)
    assert "HOLD APPLICATION SESSIONS AT TRANSACTION BOUNDARIES (3 held" in text
    assert "RELEASED APPLICATION SESSIONS TO 'gamma': 3 kept, 0 ended" in text
    for conn in conns:
        assert one(conn, "SELECT @@port")[0] == connected.topology.server("gamma").port
    assert probe(connected.topology).primary == "gamma"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_applications_may_speak_tls_to_the_connector(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    with own_connector(make_sandbox, tls_cert=str(cert), tls_key=str(key)) as (sandbox, connector):
        app = sandbox.account("app")
        secure = pymysql.connect(
            host="127.0.0.1",
            port=connector.writer_port,
            user=app.user,
            password=app.password,
            ssl={"ca": str(cert)},
            ssl_verify_identity=False,
        )
        assert isinstance(secure._sock, ssl.SSLSocket)
        assert secure._sock.version() in ("TLSv1.2", "TLSv1.3")
        assert one(secure, "SELECT 1")[0] == 1
        plain = pymysql.connect(
            host="127.0.0.1",
            port=connector.writer_port,
            user=app.user,
            password=app.password,
            ssl_disabled=True,
        )
        assert one(plain, "SELECT 1")[0] == 1  # TLS is offered, not imposed


def test_a_client_hello_sent_with_the_tls_request_is_not_lost(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """Drivers send the TLS request and their ClientHello back to back; both may arrive in
    one read, and the handshake must still succeed."""
    cert, key = _certificate(tmp_path)
    certificate = {"tls_cert": str(cert), "tls_key": str(key)}
    with (
        own_connector(make_sandbox, **certificate) as (_, connector),
        socket.create_connection(("127.0.0.1", connector.writer_port), timeout=10) as sock,
    ):
        sock.recv(4096)  # the greeting
        caps = 0x200 | 0x800 | 0x8000 | 0x80000  # protocol 41, SSL, secure conn, plugin auth
        request = struct.pack("<IIB", caps, 1 << 24, 45) + b"\x00" * 23
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        context = ssl.create_default_context(cafile=str(cert))
        tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        with pytest.raises(ssl.SSLWantReadError):
            tls.do_handshake()
        sock.sendall(struct.pack("<I", len(request))[:3] + b"\x01" + request + outgoing.read())
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                data = sock.recv(65536)
                assert data, "the connector closed the connection during the handshake"
                incoming.write(data)
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_the_connector_speaks_tls_to_a_server_that_offers_it(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sandbox = make_sandbox()
    try:
        cert, key = _certificate(tmp_path)
        tls = sandbox.root / "tls"
        tls.mkdir()
        shutil.copy(cert, tls / "server-cert.pem")
        shutil.copy(key, tls / "server-key.pem")
        sandbox.kill_server("alpha", signal.SIGTERM)
        sandbox.start_server("alpha")  # back with TLS, read-only as every restarted server
        sandbox.sql("alpha", "SET GLOBAL read_only = OFF")
        topology = sandbox.topology()
        topology = dataclasses.replace(
            topology, config=topology.config.model_copy(update={"tls": "preferred"})
        )
        connector = Connector(topology, home=sandbox.root.parent, writer_port=0, reader_port=0)
        connector.start()
        try:
            app = sandbox.account("app")
            conn = pymysql.connect(
                host="127.0.0.1",
                port=connector.writer_port,
                user=app.user,
                password=app.password,
                ssl_disabled=True,  # plain towards the connector, TLS behind it
            )
            cipher = one(conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")[1]
            assert cipher, "the connector's session on alpha is not encrypted"
            assert one(conn, "SELECT 1")[0] == 1
        finally:
            connector.stop()
    finally:
        sandbox.destroy()
