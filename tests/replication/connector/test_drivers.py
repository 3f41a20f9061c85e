"""pymysql and mysql-connector-python keep one connection, and its state, through the connector."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from mysql.connector.connection import MySQLConnection

from tests.replication.connector.clients import (
    AUTOCOMMIT_ON_AFTER,
    SWITCHES,
    CMySQLConnection,
    ConnectorPythonSession,
    PyMySQLSession,
    create_table,
    journey,
)

if TYPE_CHECKING:
    from tests.replication.connector.conftest import Connected


def test_pymysql_keeps_its_connection_and_state(connected: Connected) -> None:
    create_table(connected)
    app = connected.app
    session = PyMySQLSession(
        "pymysql", connected.host, connected.writer_port, app.user, app.password
    )
    try:
        seen = journey(connected, session)
    finally:
        session.close()
    assert seen.written == SWITCHES + 2
    assert len(set(seen.primaries)) == 3


@pytest.mark.parametrize("path", ["pure", "c"])
def test_mysql_connector_keeps_its_connection_state_and_prepared_statements(
    connected: Connected, path: str
) -> None:
    if path == "c" and CMySQLConnection is None:
        pytest.skip("mysql-connector-python's C extension is not built for this Python")
    create_table(connected)
    app = connected.app
    session = ConnectorPythonSession(
        f"mysql-connector-{path}",
        MySQLConnection if path == "pure" else CMySQLConnection,
        host=connected.host,
        port=connected.writer_port,
        user=app.user,
        password=app.password,
        connection_timeout=10,
    )
    statement_ids: list[int] = []

    def remember_statement(_seen: object) -> None:
        prepared = getattr(session.inserts, "_prepared", None)
        if prepared:
            statement_ids.append(prepared["statement_id"])

    try:
        seen = journey(connected, session, after_round=remember_statement)
    finally:
        session.close()
    assert seen.written == SWITCHES + 2
    # The client prepared once and kept executing that id: the connector mapped it each move.
    if path == "pure":
        assert len(set(statement_ids)) == 1, statement_ids
    assert seen.states[AUTOCOMMIT_ON_AFTER + 1]["autocommit"] == "1"
