"""One application session: its login, its commands passed through, and its moves."""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import struct
from typing import Protocol

from lifeboat.errors import LifeboatError
from replication.connector.auth import Accounts, recover_stage1
from replication.connector.backend import (
    Backend,
    BackendError,
    BackendLost,
    Identity,
    read_packet,
)
from replication.connector.packets import (
    FIELDS,
    FIRST,
    PREPARED,
    ROWS,
    SINGLE,
    Greeting,
    ProtocolError,
    Response,
    err_packet,
    frame,
    greeting_packet,
    is_ssl_request,
    ok_packet,
    parse_login,
    read_nul,
)
from replication.connector.settings import (
    CHUNK,
    CLIENT_DEPRECATE_EOF,
    CLIENT_PLUGIN_AUTH,
    CLIENT_SESSION_TRACK,
    CLIENT_SSL,
    COM_CHANGE_USER,
    COM_FIELD_LIST,
    COM_INIT_DB,
    COM_PING,
    COM_QUERY,
    COM_QUIT,
    COM_RESET_CONNECTION,
    COM_SET_OPTION,
    COM_STATISTICS,
    COM_STMT_CLOSE,
    COM_STMT_EXECUTE,
    COM_STMT_FETCH,
    COM_STMT_PREPARE,
    COM_STMT_RESET,
    COM_STMT_SEND_LONG_DATA,
    ER_ACCESS_DENIED,
    ER_NO_PRIMARY,
    ER_ROLLED_BACK,
    ER_UNKNOWN_COM,
    ER_UNKNOWN_STMT,
    NATIVE_PASSWORD,
    OFFERED,
    SERVER_STATUS_AUTOCOMMIT,
    SERVER_STATUS_IN_TRANS,
)
from replication.connector.state import (
    COLLATION,
    USER_VARIABLE,
    USER_VARIABLES_SQL,
    SessionState,
)
from replication.topology import Server

log = logging.getLogger("lifeboat.connector")

# Commands passed through as they are, with the state their response starts in.
PASSED = {
    COM_QUERY: FIRST,
    COM_INIT_DB: FIRST,
    COM_PING: FIRST,
    COM_RESET_CONNECTION: FIRST,
    COM_STMT_RESET: FIRST,
    COM_STMT_EXECUTE: FIRST,
    COM_STMT_FETCH: ROWS,
    COM_FIELD_LIST: FIELDS,
    COM_STATISTICS: SINGLE,
    COM_SET_OPTION: SINGLE,
    COM_STMT_PREPARE: PREPARED,
}
STATEMENT_COMMANDS = {
    COM_STMT_EXECUTE,
    COM_STMT_RESET,
    COM_STMT_FETCH,
    COM_STMT_CLOSE,
    COM_STMT_SEND_LONG_DATA,
}
# Server errors that would make a driver drop its connection (server shutdown, connection
# killed): the connector keeps the connection, so it answers with an interrupted statement.
CONNECTION_ENDING = {1053, 1927, 1152, 1159, 1161, 4031}
ER_INTERRUPTED = (1317, b"70100")


class Connector(Protocol):
    """What a session needs of the connector that accepted it."""

    greeting: Greeting
    client_tls: ssl.SSLContext | None
    accounts: Accounts
    tls: str
    connect_timeout: float

    async def target(self, role: str) -> Server: ...

    async def gate(self, session: Session) -> None: ...

    def backend_lost(self, session: Session, server: Server) -> None: ...


def _scramble() -> bytes:
    return bytes(33 + secrets.randbelow(94) for _ in range(20))


class ClientGone(Exception):
    """The application closed its connection."""


class Session:
    """An application's connection, which outlives the server connections behind it."""

    def __init__(
        self,
        connector: Connector,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session_id: int,
        role: str,
    ) -> None:
        self.connector = connector
        self.reader = reader
        self.writer = writer
        self.id = session_id
        self.role = role
        self.peer = (writer.get_extra_info("peername") or ("?",))[0]
        self.lock = asyncio.Lock()
        self.state = SessionState()
        self.identity: Identity | None = None
        self.backend: Backend | None = None
        self.in_trans = False
        self.busy = False
        self.doomed = False
        self.pending_error: bytes | None = None
        self.deprecate_eof = False
        self.client_tracks = False
        self.moves = 0

    # -- login -------------------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            if await self._login():
                await self._commands()
        except (ClientGone, asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as exc:
            log.warning("session %s from %s: %s", self.id, self.peer, exc)
        finally:
            if self.backend is not None:
                self.backend.close()
            self.writer.close()

    def _send(self, payload: bytes, seq: int) -> None:
        self.writer.write(frame(payload, seq))

    async def _login(self) -> bool:
        connector = self.connector
        scramble = _scramble()
        server = connector.greeting
        offered = OFFERED & server.capabilities | CLIENT_PLUGIN_AUTH
        if connector.client_tls is not None:
            offered |= CLIENT_SSL
        greeting = Greeting(
            server.version,
            self.id,
            scramble,
            offered,
            server.charset,
            SERVER_STATUS_AUTOCOMMIT,
            NATIVE_PASSWORD,
        )
        self._send(greeting_packet(greeting), 0)
        seq, payload = await read_packet(self.reader)
        if is_ssl_request(payload) and connector.client_tls is not None:
            await self.writer.start_tls(connector.client_tls)
            seq, payload = await read_packet(self.reader)
        login = parse_login(payload)
        auth = login.auth
        if login.plugin not in ("", NATIVE_PASSWORD) or len(auth) not in (0, 20):
            self._send(b"\xfe" + NATIVE_PASSWORD.encode() + b"\x00" + scramble + b"\x00", seq + 1)
            seq, auth = await read_packet(self.reader)
        try:
            stage1 = await self._verify(login.user, scramble, auth)
        except LifeboatError as exc:
            log.error("session %s: cannot verify %r: %s", self.id, login.user, exc)
            self._error(seq + 1, ER_ACCESS_DENIED, f"cannot verify the account now: {exc}")
            return False
        if stage1 is None:
            code, state = ER_ACCESS_DENIED
            using = "YES" if auth else "NO"
            self._send(
                err_packet(
                    code,
                    state,
                    f"Access denied for user '{login.user}'@"
                    f"'{self.peer}' (using password: {using})",
                ),
                seq + 1,
            )
            return False
        caps = login.capabilities & (offered | CLIENT_SSL)
        self.deprecate_eof = bool(caps & CLIENT_DEPRECATE_EOF)
        self.client_tracks = bool(caps & CLIENT_SESSION_TRACK)
        self.identity = Identity(
            login.user, stage1, login.charset, caps, login.max_packet, login.attrs
        )
        self.state.database = login.database
        try:
            await self._attach()
        except BackendError as exc:
            self._send(exc.payload or err_packet(exc.code, exc.sqlstate, str(exc)), seq + 1)
            return False
        except NoPrimary as exc:
            self._send(err_packet(*ER_NO_PRIMARY, str(exc)), seq + 1)
            return False
        self._send(ok_packet(SERVER_STATUS_AUTOCOMMIT), seq + 1)
        return True

    async def _verify(self, user: str, scramble: bytes, auth: bytes) -> bytes | None:
        loop = asyncio.get_running_loop()
        for fresh in (False, True):
            accounts = await loop.run_in_executor(None, self.connector.accounts.lookup, user, fresh)
            for account in accounts:
                if account.stored is None:
                    continue
                stage1 = recover_stage1(scramble, auth, account.stored)
                if stage1 is not None:
                    return stage1
        return None

    # -- commands ----------------------------------------------------------------------------

    async def _commands(self) -> None:
        while True:
            packets, payload = await self._read_command()
            if not payload or payload[0] == COM_QUIT:
                return
            if self.role == "writer":
                await self.connector.gate(self)
            async with self.lock:
                self.busy = True
                try:
                    await self._command(payload, packets)
                finally:
                    self.busy = False
            await self.writer.drain()

    async def _read_command(self) -> tuple[int, bytes]:
        parts = []
        count = 0
        while True:
            header = await self.reader.readexactly(4)
            length = header[0] | header[1] << 8 | header[2] << 16
            parts.append(await self.reader.readexactly(length) if length else b"")
            count += 1
            if length < 0xFFFFFF:
                break
        return count, parts[0] if count == 1 else b"".join(parts)

    def _error(self, seq: int, error: tuple[int, bytes], message: str) -> None:
        self._send(err_packet(error[0], error[1], "lifeboat connector: " + message), seq)

    async def _command(self, payload: bytes, packets: int) -> None:
        code = payload[0]
        if code == COM_CHANGE_USER:
            await self._change_user(payload, packets)
            return
        if code not in PASSED and code not in STATEMENT_COMMANDS:
            self._error(packets, ER_UNKNOWN_COM, f"command 0x{code:02x} is not supported")
            return
        if self.pending_error is not None and code not in (
            COM_PING,
            COM_STMT_CLOSE,
            COM_STATISTICS,
        ):
            self._send(self.pending_error, packets)
            self.pending_error = None
            return
        if code in STATEMENT_COMMANDS:
            client_id = struct.unpack_from("<I", payload, 1)[0]
            statement = self.state.statements.get(client_id)
            if statement is None:
                if code not in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA):
                    self._error(
                        packets,
                        ER_UNKNOWN_STMT,
                        f"unknown prepared statement handler ({client_id})",
                    )
                return
            if code == COM_STMT_EXECUTE:
                payload = statement.execute_payload(payload)
            else:
                payload = payload[:1] + struct.pack("<I", statement.backend_id) + payload[5:]
            if code == COM_STMT_CLOSE:
                del self.state.statements[client_id]
        try:
            backend = await self._backend()
        except NoPrimaryRolledBack as exc:
            if code not in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA):
                self._error(packets, ER_ROLLED_BACK, str(exc))
            return
        except NoPrimary as exc:
            if code not in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA):
                self._error(packets, ER_NO_PRIMARY, str(exc))
            return
        if code in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA):
            backend.send(payload)
            return
        await self._pass(backend, payload, packets, PASSED[code])

    async def _pass(self, backend: Backend, payload: bytes, packets: int, start: int) -> None:
        code = payload[0]
        response = Response(
            self.deprecate_eof,
            backend.tracks,
            self.client_tracks,
            self.state.tracked,
            state=start,
            on_prepared=(lambda backend_id: self.state.add_statement(payload[1:], backend_id, 0))
            if code == COM_STMT_PREPARE
            else None,
        )
        response.on_error = self._error_for_client
        writer = self.writer
        try:
            backend.writer.write(frame(payload, 0))
            read = backend.reader.read
            while not response.done:
                data = await read(CHUNK)
                if not data:
                    raise BackendLost(f"{backend.server.name} closed the connection")
                writer.write(response.feed(data))
                if writer.transport.get_write_buffer_size() > CHUNK:
                    await writer.drain()
        except (BackendLost, ConnectionError, OSError) as exc:
            self._lost(backend, response, packets, str(exc))
            return
        if response.status is not None:
            self.in_trans = bool(response.status & SERVER_STATUS_IN_TRANS)
        self.state.absorb()
        if response.error is None:
            await self._after(backend, code, payload, response)

    def _error_for_client(self, code: int) -> bytes | None:
        if code in CONNECTION_ENDING:
            return err_packet(
                *ER_INTERRUPTED,
                "lifeboat connector: the statement was "
                "interrupted on the server; the connection stays, run it again",
            )
        return None

    async def _after(self, backend: Backend, code: int, payload: bytes, response: Response) -> None:
        state = self.state
        if code == COM_STMT_PREPARE and response.prepared is not None:
            backend_id, _, params = response.prepared
            for statement in state.statements.values():
                if statement.backend_id == backend_id:
                    statement.params = params
        elif code == COM_INIT_DB:
            state.database = payload[1:].decode("utf-8", "replace")
        elif code == COM_RESET_CONNECTION:
            state.reset()
        elif code == COM_SET_OPTION:
            state.multi_statements = struct.unpack_from("<H", payload, 1)[0] == 0
        elif code == COM_QUERY and response.warnings == 0:
            if payload[1:64].lstrip()[:1] in b"PpDd":
                state.note_sql(payload[1:])
            if USER_VARIABLE.search(payload, 1):
                await self._read_user_variables(backend)
            if COLLATION.search(payload, 1):
                await self._read_collation(backend)

    async def _read_collation(self, backend: Backend) -> None:
        """MariaDB does not report collation_connection when SET NAMES ... COLLATE sets it."""
        try:
            rows = await backend.rows("SELECT @@collation_connection")
        except (BackendError, BackendLost, OSError):
            return
        if rows and rows[0][0]:
            self.state.tracked.variables["collation_connection"] = rows[0][0].decode()

    async def _read_user_variables(self, backend: Backend) -> None:
        """Keep the session's user variables, for a move after the server is gone."""
        try:
            rows = await backend.rows(USER_VARIABLES_SQL)
        except (BackendError, BackendLost, OSError):
            return
        self.state.user_variables = [
            (
                (r[0] or b"").decode(),
                None if r[1] is None else r[1].decode("utf-8", "surrogateescape"),
                (r[2] or b"VARCHAR").decode(),
                None if r[3] is None else r[3].decode(),
            )
            for r in rows
        ]

    def _lost(self, backend: Backend, response: Response, packets: int, why: str) -> None:
        backend.writer.close()
        self.backend = None
        was_in_trans, self.in_trans = self.in_trans, False
        self.connector.backend_lost(self, backend.server)
        if response.started:
            # Part of a result already went out: nothing honest can follow it.
            log.warning("session %s: %s mid-result; closing it", self.id, why)
            raise ClientGone
        if was_in_trans:
            self._error(
                packets,
                ER_ROLLED_BACK,
                f"the server {backend.server.name} went away during this transaction "
                "(its work is lost); the connection stays, run the transaction again",
            )
        else:
            self._error(
                packets,
                ER_INTERRUPTED,
                f"the server {backend.server.name} went away while this statement ran; "
                "it may not have been applied. The connection stays.",
            )

    # -- backends ----------------------------------------------------------------------------

    async def _backend(self) -> Backend:
        backend = self.backend
        if backend is not None and not backend.lost():
            return backend
        if backend is not None:
            backend.writer.close()
            self.backend = None
            if self.in_trans:
                self.in_trans = False
                self.connector.backend_lost(self, backend.server)
                raise NoPrimaryRolledBack
            self.connector.backend_lost(self, backend.server)
        await self._attach()
        assert self.backend is not None
        return self.backend

    async def _attach(self, server: Server | None = None) -> None:
        """Open a server session for this one and give it the session's state."""
        assert self.identity is not None
        connector = self.connector
        while True:
            target = server or await connector.target(self.role)
            try:
                backend = await Backend.open(
                    target,
                    self.identity,
                    self.state.database,
                    connector.tls,
                    connector.connect_timeout,
                )
            except BackendError as exc:
                if exc.code == 1049 and self.state.database:  # the schema is gone there
                    self.state.database = None
                    continue
                raise
            except BackendLost as exc:
                if server is not None:
                    raise
                connector.backend_lost(self, target)
                log.info("session %s: %s", self.id, exc)
                continue
            break
        await self._restore(backend)
        self.backend = backend

    async def _restore(self, backend: Backend) -> None:
        state = self.state
        if self.moves == 0 and not state.tracked.variables and not state.statements:
            return
        statement = state.variables_sql()
        if statement:
            try:
                await backend.execute(statement)
            except BackendError:
                for single in state.each_variable_sql():
                    try:
                        await backend.execute(single)
                    except BackendError as exc:
                        log.warning(
                            "session %s: could not carry over %s: %s",
                            self.id,
                            single.split("=")[0][12:],
                            exc,
                        )
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

    async def move(self, server: Server) -> bool:
        """Continue on `server`; False when this session's transaction had to end."""
        async with self.lock:
            ended = self.in_trans or self.doomed
            if ended:
                self.pending_error = err_packet(
                    *ER_ROLLED_BACK,
                    f"lifeboat connector: the primary moved to {server.name} while this "
                    "transaction was open; it was rolled back. Run it again.",
                )
            self.in_trans = self.doomed = False
            old, self.backend = self.backend, None
            if old is not None:
                old.close()
            self.moves += 1
            try:
                await self._attach(server)
            except (BackendError, BackendLost, OSError) as exc:
                log.warning("session %s: could not move to %s yet: %s", self.id, server.name, exc)
            return not ended

    async def _change_user(self, payload: bytes, packets: int) -> None:
        user, pos = read_nul(payload, 1)
        length = payload[pos]
        auth = bytes(payload[pos + 1 : pos + 1 + length])
        pos += 1 + length
        database, pos = read_nul(payload, pos)
        scramble = _scramble()
        # Ask for a fresh proof against a scramble of this connector's own.
        self._send(b"\xfe" + NATIVE_PASSWORD.encode() + b"\x00" + scramble + b"\x00", packets)
        seq, auth = await read_packet(self.reader)
        stage1 = await self._verify(user.decode(), scramble, auth)
        if stage1 is None:
            self._error(seq + 1, ER_ACCESS_DENIED, f"Access denied for user '{user.decode()}'")
            return
        assert self.identity is not None
        self.identity = Identity(
            user.decode(),
            stage1,
            self.identity.charset,
            self.identity.capabilities,
            self.identity.max_packet,
            self.identity.attrs,
        )
        self.state.reset(keep_database=False)
        self.state.database = database.decode() or None
        self.in_trans = False
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        try:
            await self._attach()
        except BackendError as exc:
            self._send(exc.payload or err_packet(exc.code, exc.sqlstate, str(exc)), seq + 1)
            return
        self._send(ok_packet(SERVER_STATUS_AUTOCOMMIT), seq + 1)


class NoPrimary(Exception):
    """No server can take this session's statements now (the primary is lost)."""


class NoPrimaryRolledBack(NoPrimary):
    def __init__(self) -> None:
        super().__init__(
            "the server this transaction ran on went away; the transaction is lost. "
            "The connection stays: run the transaction again."
        )
