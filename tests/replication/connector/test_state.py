"""What a session carries to another server, as plain functions."""

from __future__ import annotations

import struct

from replication.connector.state import Prepared, SessionState


def execute(statement_id: int, types: bytes | None, values: bytes) -> bytes:
    """A COM_STMT_EXECUTE of two parameters, with or without their types."""
    head = b"\x17" + struct.pack("<IBI", statement_id, 0, 1) + b"\x00"  # no NULLs
    return head + (b"\x01" + types if types is not None else b"\x00") + values


def test_an_execution_after_a_move_sends_the_parameter_types_again() -> None:
    types = b"\x03\x00\xfe\x00"  # LONG, STRING
    values = struct.pack("<i", 7) + b"\x03abc"
    statement = Prepared(b"SELECT ?, ?", backend_id=11, params=2)

    first = statement.execute_payload(execute(1, types, values))
    assert first == execute(11, types, values)  # the server's id, types as sent
    later = statement.execute_payload(execute(1, None, values))
    assert later == execute(11, None, values)  # the server remembers them

    statement.backend_id, statement.rebind = 42, True  # prepared again on a new primary
    moved = statement.execute_payload(execute(1, None, values))
    assert moved == execute(42, types, values)  # a new server has never seen them
    assert statement.execute_payload(execute(1, None, values)) == execute(42, None, values)


def test_variables_are_replayed_character_sets_first_and_numbers_unquoted() -> None:
    state = SessionState()
    state.tracked.variables.update(
        {
            "collation_connection": "utf8mb4_bin",
            "sql_mode": "ANSI_QUOTES",
            "character_set_connection": "utf8mb4",
            "div_precision_increment": "9",
            "last_gtid": "0-1-5",
        }
    )
    assert state.variables_sql() == (
        "SET SESSION `character_set_connection` = 'utf8mb4', "
        "`collation_connection` = 'utf8mb4_bin', `sql_mode` = 'ANSI_QUOTES', "
        "`div_precision_increment` = 9"
    )


def test_sql_prepared_statements_are_remembered_and_forgotten_by_name() -> None:
    state = SessionState()
    state.note_sql(b"PREPARE `Find` FROM 'SELECT ?'")
    state.note_sql(b"prepare other from @sql")
    assert list(state.sql_prepared) == [b"find", b"other"]
    state.note_sql(b"DEALLOCATE PREPARE find")
    state.note_sql(b"DROP PREPARE `other`")
    assert state.sql_prepared == {}
