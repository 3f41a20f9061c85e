"""One application session: its login, its commands passed through, and its moves."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import struct
from typing import Any, Protocol

from replication.connector.auth import Accounts
from replication.connector.backend import (
    Backend,
    BackendError,
    BackendLost,
    Identity,
)
from replication.connector.carry import read_collation, read_user_variables, restore
from replication.connector.login import log_in, scramble, switch_request, verify
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
    ok_packet,
    read_nul,
    take,
)
from replication.connector.settings import (
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
    RECOVERY_POLL,
    SERVER_STATUS_AUTOCOMMIT,
    SERVER_STATUS_IN_TRANS,
)
from replication.connector.state import (
    COLLATION,
    USER_VARIABLE,
    SessionState,
)
from replication.connector.wire import Wire, WireClosed
from replication.topology import Server

log = logging.getLogger("lifeboat.connector")
# A cheap first look for COLLATION's words (NAMES, COLLATE, collation_connection).
MAY_SET_COLLATION = re.compile(rb"[Nn][Aa][Mm][Ee][Ss]|[Cc][Oo][Ll][Ll][Aa][Tt]")

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
# Commands that do not deliver an error kept for the session's next statement.
QUIET = frozenset({COM_PING, COM_STMT_CLOSE, COM_STATISTICS, COM_STMT_SEND_LONG_DATA})


def _error_for_client(code: int) -> bytes | None:
    if code in CONNECTION_ENDING:
        return err_packet(
            *ER_INTERRUPTED,
            "lifeboat connector: the statement was interrupted on the server; the connection "
            "stays, run it again",
        )
    return None


class Connector(Protocol):
    """What a session needs of the connector that accepted it."""

    greeting: Greeting
    client_tls: ssl.SSLContext | None
    accounts: Accounts
    tls: str
    connect_timeout: float

    async def target(self, role: str) -> Server: ...

    def holds(self, session: Session) -> bool: ...

    def backend_lost(self, session: Session, server: Server) -> None: ...


class Session:
    """An application's connection, which outlives the server connections behind it.

    Commands pass through in the event loop's callbacks (`pump` -> Backend.forward ->
    `_done`); what needs to wait (a new server session, a hold, COM_CHANGE_USER, reading
    state back after a statement) runs as a task, while the session counts as busy.
    """

    def __init__(self, connector: Connector, wire: Wire, session_id: int, role: str) -> None:
        self.connector = connector
        self.wire = wire
        self.id = session_id
        self.role = role
        transport = wire.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        self.peer = peer[0] if peer else "?"
        self.state = SessionState()
        self.identity: Identity | None = None
        self.backend: Backend | None = None
        self.inbox = bytearray()
        self.in_trans = False
        self.busy = False
        self.held = False
        self.doomed = False
        self.closed = False
        self.pending_error: bytes | None = None
        self.deprecate_eof = False
        self.client_tracks = False
        self.moves = 0
        self._current: tuple[bytes, int] | None = None
        self._finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._packet_waiter: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- life ----------------------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            if await self._login():
                self.wire.on_lost = self._client_lost
                self.wire.on_pause = self._client_paused
                self.wire.stream(self._client_data)
                await self._finished
        except (WireClosed, ConnectionError):
            pass
        except (ProtocolError, OSError) as exc:  # OSError: a failed TLS handshake, say
            log.warning("session %s from %s: %s", self.id, self.peer, exc)
        finally:
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        self.wire.close()
        if not self._finished.done():
            self._finished.set_result(None)

    def _client_lost(self, exc: BaseException | None) -> None:
        self.close()

    def _client_paused(self, paused: bool) -> None:
        if self.backend is not None:
            self.backend.pause(paused)

    def _send(self, payload: bytes, seq: int) -> None:
        self.wire.write(frame(payload, seq))

    def _error(self, seq: int, error: tuple[int, bytes], message: str) -> None:
        self._send(err_packet(error[0], error[1], "lifeboat connector: " + message), seq)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _login(self) -> bool:
        """The application's login; then a server session as that user, then its OK."""
        connector = self.connector
        done = await log_in(
            self.wire,
            connector.greeting,
            connector.client_tls,
            self.id,
            connector.accounts,
            self.peer,
        )
        if done is None:
            return False
        self.identity = done.identity
        self.deprecate_eof, self.client_tracks = done.deprecate_eof, done.client_tracks
        self.state.database = done.database
        try:
            await self._attach()
        except BackendError as exc:
            self._send(exc.payload or err_packet(exc.code, exc.sqlstate, str(exc)), done.seq + 1)
            return False
        except NoPrimary as exc:
            self._send(err_packet(*ER_NO_PRIMARY, str(exc)), done.seq + 1)
            return False
        self._send(ok_packet(SERVER_STATUS_AUTOCOMMIT), done.seq + 1)
        return True

    # -- commands ------------------------------------------------------------------------------

    def _client_data(self, data: bytes) -> None:
        self.inbox += data
        if self._packet_waiter is not None and not self._packet_waiter.done():
            self._packet_waiter.set_result(None)
            return
        self.pump()

    def _peek(self) -> tuple[int, int, bytes] | None:
        """(packets, bytes used, payload) of the next whole command in the inbox, if any."""
        whole = take(self.inbox)
        return None if whole is None else (whole.packets, whole.used, whole.payload)

    async def _next_packet(self) -> tuple[int, bytes]:
        """The next packet of a command's own exchange (the answer of COM_CHANGE_USER)."""
        while True:
            command = self._peek()
            if command is not None:
                packets, used, payload = command
                del self.inbox[:used]
                return packets, payload
            if self.closed:
                raise WireClosed("the application closed its connection")
            self._packet_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._packet_waiter
            finally:
                self._packet_waiter = None

    def pump(self) -> None:
        """Run the commands that have arrived, one at a time, as long as nothing waits."""
        while not self.busy and not self.closed:
            command = self._peek()
            if command is None:
                return
            packets, used, payload = command
            if not payload or payload[0] == COM_QUIT:
                self.close()
                return
            if self.role == "writer" and self.connector.holds(self):
                self.held = True  # the connector pumps it again on release
                return
            self.held = False
            del self.inbox[:used]
            if not self._run(payload, packets):
                self.busy = True
                self._spawn(self._slow(payload, packets))

    def _idle(self) -> None:
        self.busy = False
        if not self.closed:
            self.pump()

    def _run(self, payload: bytes, packets: int) -> bool:
        """Run one command now if nothing needs waiting for; False when it must wait."""
        code = payload[0]
        if code == COM_CHANGE_USER:
            return False
        if code not in PASSED and code not in STATEMENT_COMMANDS:
            self._error(packets, ER_UNKNOWN_COM, f"command 0x{code:02x} is not supported")
            return True
        if self.pending_error is not None and code not in QUIET:
            self._send(self.pending_error, packets)
            self.pending_error = None
            return True
        backend = self.backend
        if backend is None or backend.lost():
            return False
        if code in STATEMENT_COMMANDS:
            translated = self._statement(payload, packets)
            if translated is None:
                return True
            payload = translated
            if code in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA):
                backend.send(payload)
                return True
        self._forward(backend, payload, packets)
        return True

    def _statement(self, payload: bytes, packets: int) -> bytes | None:
        """The command with the server's statement id for the application's, or None."""
        code = payload[0]
        client_id = struct.unpack_from("<I", payload, 1)[0]
        statement = self.state.statements.get(client_id)
        if statement is None:
            if code not in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA):
                self._error(packets, ER_UNKNOWN_STMT, f"unknown prepared statement ({client_id})")
            return None
        if code == COM_STMT_CLOSE:
            del self.state.statements[client_id]
        if code == COM_STMT_EXECUTE:
            return statement.execute_payload(payload)
        return payload[:1] + struct.pack("<I", statement.backend_id) + payload[5:]

    def _forward(self, backend: Backend, payload: bytes, packets: int) -> None:
        code = payload[0]
        on_prepared = None
        if code == COM_STMT_PREPARE:
            sql = payload[1:]

            def on_prepared(backend_id: int) -> int:
                return self.state.add_statement(sql, backend_id, 0)

        response = Response(
            self.deprecate_eof,
            backend.tracks,
            self.client_tracks,
            self.state.tracked,
            state=PASSED[code],
            on_prepared=on_prepared,
        )
        response.on_error = _error_for_client
        self.busy = True
        self._current = (payload, packets)
        backend.forward(frame(payload, 0), response, self.wire.write, self._done)

    def _done(self, response: Response, exc: BaseException | None) -> None:
        """A forwarded command's response ended (or its server was lost)."""
        assert self._current is not None
        payload, packets = self._current
        self._current = None
        backend = self.backend
        if exc is not None:
            if backend is not None:
                self._lost(backend, response, packets, str(exc))
            self._idle()
            return
        if response.status is not None:
            self.in_trans = bool(response.status & SERVER_STATUS_IN_TRANS)
        state = self.state
        state.absorb()
        code = payload[0]
        if response.error is None:
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
            elif code == COM_QUERY and response.warnings == 0 and backend is not None:
                if payload[1:64].lstrip()[:1] in b"PpDd":
                    state.note_sql(payload[1:])
                # Plain substring tests first: most statements name no variable nor collation.
                if (b"@" in payload and USER_VARIABLE.search(payload, 1)) or (
                    MAY_SET_COLLATION.search(payload) and COLLATION.search(payload, 1)
                ):
                    self._spawn(self._read_back(backend, payload))
                    return
        self._idle()

    async def _read_back(self, backend: Backend, payload: bytes) -> None:
        """Read what the server does not report itself, then go on with the next command."""
        try:
            if USER_VARIABLE.search(payload, 1):
                await read_user_variables(backend, self.state)
            if COLLATION.search(payload, 1):
                await read_collation(backend, self.state)
        finally:
            self._idle()

    async def _slow(self, payload: bytes, packets: int) -> None:
        """A command that must wait: for a server session, or its own exchange."""
        try:
            ready = await self._make_ready(payload, packets)
        except WireClosed:
            self.close()
            return
        except BaseException:
            self._idle()
            raise
        if not ready:
            self._idle()
            return
        self.busy = False
        if not self._run(payload, packets):
            self._error(packets, ER_NO_PRIMARY, "no server session could be opened")
        if not self.busy:
            self._idle()

    async def _make_ready(self, payload: bytes, packets: int) -> bool:
        """True once the command can run; False when it was answered here."""
        code = payload[0]
        if code == COM_CHANGE_USER:
            await self._change_user(payload, packets)
            return False
        quiet = code in (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA)
        try:
            await self._backend()
        except NoPrimaryRolledBack as exc:
            if not quiet:
                self._error(packets, ER_ROLLED_BACK, str(exc))
            return False
        except (NoPrimary, BackendError, BackendLost) as exc:
            if not quiet:
                self._error(packets, ER_NO_PRIMARY, str(exc))
            return False
        return True

    def _lost(self, backend: Backend, response: Response, packets: int, why: str) -> None:
        backend.abort()
        self.backend = None
        was_in_trans, self.in_trans = self.in_trans, False
        self.connector.backend_lost(self, backend.server)
        if response.started:
            # Part of a result already went out: nothing honest can follow it.
            log.warning("session %s: %s mid-result; closing it", self.id, why)
            self.close()
            return
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
            backend.abort()
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
                await asyncio.sleep(RECOVERY_POLL)
                continue
            break
        await self._restore(backend)
        backend.on_lost = self._backend_gone
        self.backend = backend

    def _backend_gone(self, backend: Backend) -> None:
        """The server closed an idle session: the primary may be gone."""
        if self.backend is backend:
            self.connector.backend_lost(self, backend.server)

    async def _restore(self, backend: Backend) -> None:
        state = self.state
        if self.moves or state.tracked.variables or state.statements or state.sql_prepared:
            await restore(backend, state, f"session {self.id}")

    async def move(self, server: Server) -> bool:
        """Continue on `server` (only while not busy); False when a transaction had to end."""
        self.busy = True
        try:
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
            except (BackendError, BackendLost, NoPrimary, OSError) as exc:
                log.warning("session %s: could not move to %s yet: %s", self.id, server.name, exc)
            return not ended
        finally:
            self.busy = False

    async def _change_user(self, payload: bytes, packets: int) -> None:
        user, pos = read_nul(payload, 1)
        length = payload[pos]
        auth = bytes(payload[pos + 1 : pos + 1 + length])
        pos += 1 + length
        database, pos = read_nul(payload, pos)
        challenge = scramble()
        # Ask for a fresh proof against a challenge of this connector's own.
        self._send(switch_request(challenge), packets)
        _, auth = await self._next_packet()
        seq = packets + 1
        stage1 = await verify(self.connector.accounts, user.decode(), challenge, auth)
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
