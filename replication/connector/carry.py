"""Carrying a session's state to a new server session, and reading back what is not reported."""

from __future__ import annotations

import logging
import struct

from replication.connector.backend import Backend, BackendError, BackendLost
from replication.connector.packets import SINGLE, Response
from replication.connector.settings import COM_SET_OPTION
from replication.connector.state import USER_VARIABLES_SQL, SessionState

log = logging.getLogger("lifeboat.connector")


async def restore(backend: Backend, state: SessionState, who: str) -> None:
    """Give a new server session the state the application built on the old one."""
    statement = state.variables_sql()
    if statement:
        try:
            await backend.execute(statement)
        except BackendError:
            # One variable the new server refuses (another version, a privilege) must not
            # cost the others: each on its own, and the refusal named in the log.
            for single in state.each_variable_sql():
                try:
                    await backend.execute(single)
                except BackendError as exc:
                    name = single.split("=")[0].removeprefix("SET SESSION ").strip()
                    log.warning("%s: could not carry over %s: %s", who, name, exc)
    statement = state.user_variables_sql()
    if statement:
        await backend.execute(statement)
    if state.multi_statements is not None:
        option = 0 if state.multi_statements else 1
        await backend.roundtrip(
            bytes([COM_SET_OPTION]) + struct.pack("<H", option),
            Response(backend.deprecate_eof, backend.tracks, True, state.tracked, state=SINGLE),
        )
    for sql in state.sql_prepared.values():
        await backend.execute(sql.decode("utf-8", "surrogateescape"))
    for prepared in state.statements.values():
        prepared.backend_id, prepared.params = await backend.prepare(prepared.sql)
        prepared.rebind = True


async def read_collation(backend: Backend, state: SessionState) -> None:
    """MariaDB does not report collation_connection when SET NAMES ... COLLATE sets it."""
    try:
        rows = await backend.rows("SELECT @@collation_connection")
    except (BackendError, BackendLost, OSError):
        return
    if rows and rows[0][0]:
        state.tracked.variables["collation_connection"] = rows[0][0].decode()


async def read_user_variables(backend: Backend, state: SessionState) -> None:
    """Keep the session's user variables, for a move after the server is gone."""
    try:
        rows = await backend.rows(USER_VARIABLES_SQL)
    except (BackendError, BackendLost, OSError):
        return
    state.user_variables = [
        (
            (r[0] or b"").decode(),
            None if r[1] is None else r[1].decode("utf-8", "surrogateescape"),
            (r[2] or b"VARCHAR").decode(),
            None if r[3] is None else r[3].decode(),
        )
        for r in rows
    ]
