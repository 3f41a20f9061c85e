"""One connection from the connector to a server, logged in as an application's user."""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass

from replication.connector.auth import answer
from replication.connector.packets import (
    PREPARED,
    Greeting,
    Login,
    ProtocolError,
    Response,
    Tracked,
    frame,
    login_packet,
    parse_err,
    parse_greeting,
    read_lenenc,
)
from replication.connector.settings import (
    CLIENT_CONNECT_ATTRS,
    CLIENT_CONNECT_WITH_DB,
    CLIENT_DEPRECATE_EOF,
    CLIENT_PLUGIN_AUTH,
    CLIENT_PROTOCOL_41,
    CLIENT_SECURE_CONNECTION,
    CLIENT_SESSION_TRACK,
    CLIENT_SSL,
    COM_QUERY,
    COM_QUIT,
    COM_STMT_PREPARE,
    MAX_PAYLOAD,
    NATIVE_PASSWORD,
)
from replication.connector.wire import Wire, WireClosed
from replication.topology import Server

# Called when a forwarded command's response has ended (None) or could not (the error).
Done = Callable[[Response, BaseException | None], None]


class BackendError(Exception):
    """A server refused what the connector asked (login, a statement); `code` is its error."""

    def __init__(self, code: int, sqlstate: bytes, message: str, payload: bytes = b"") -> None:
        super().__init__(message)
        self.code = code
        self.sqlstate = sqlstate
        self.payload = payload


class BackendLost(Exception):
    """The server closed the connection or could not be reached."""


@dataclass(frozen=True)
class Identity:
    """Who a backend session logs in as: everything but the password, which stays hashed."""

    user: str
    stage1: bytes  # SHA1(password): enough to answer a server, never the password
    charset: int
    capabilities: int
    max_packet: int
    attrs: bytes

    def __repr__(self) -> str:
        return f"Identity(user={self.user!r})"


def tls_context(mode: str) -> ssl.SSLContext | None:
    """The client-side TLS context for a topology's `tls` setting (None: plain TCP)."""
    if mode == "disabled":
        return None
    context = ssl.create_default_context()
    if mode != "required":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Backend:
    """An authenticated server session with the state tracking the connector relies on.

    A command's response streams through `forward` in the event loop's callbacks: each chunk
    is followed by `Response` and handed to `sink` (the application's connection), and
    `done` is called once it ends or the server is lost.
    """

    def __init__(self, server: Server, wire: Wire, greeting: Greeting, capabilities: int) -> None:
        self.server = server
        self.wire = wire
        self.greeting = greeting
        self.capabilities = capabilities
        self.tracks = bool(capabilities & CLIENT_SESSION_TRACK)
        self.deprecate_eof = bool(capabilities & CLIENT_DEPRECATE_EOF)
        self.response: Response | None = None
        self.sink: Callable[[bytes], None] | None = None
        self.done: Done | None = None
        self.unasked = False
        self.on_lost: Callable[[Backend], None] | None = None

    @classmethod
    async def open(
        cls,
        server: Server,
        identity: Identity,
        database: str | None,
        tls: str,
        timeout: float,
    ) -> Backend:
        loop = asyncio.get_running_loop()
        try:
            _, wire = await asyncio.wait_for(
                loop.create_connection(Wire, server.host, server.port), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise BackendLost(f"{server.name} ({server.address}): {exc}") from None
        try:
            backend = await asyncio.wait_for(
                cls._login(server, wire, identity, database, tls), timeout
            )
        except BaseException:
            wire.abort()
            raise
        wire.on_lost = backend._lost
        wire.stream(backend._data)
        if backend.tracks:
            await backend.execute(
                "SET SESSION session_track_system_variables='*', session_track_schema=ON, "
                "session_track_state_change=ON"
            )
        return backend

    @classmethod
    async def _login(
        cls, server: Server, wire: Wire, identity: Identity, database: str | None, tls: str
    ) -> Backend:
        try:
            _, payload = await wire.read_packet()
        except WireClosed as exc:
            raise BackendLost(f"{server.name} closed the connection: {exc}") from None
        greeting = parse_greeting(payload)
        caps = (
            identity.capabilities & greeting.capabilities
            | CLIENT_PROTOCOL_41
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH
        ) & ~(CLIENT_CONNECT_WITH_DB | CLIENT_SSL | CLIENT_CONNECT_ATTRS)
        caps |= greeting.capabilities & (CLIENT_SESSION_TRACK | CLIENT_CONNECT_ATTRS)
        if database:
            caps |= CLIENT_CONNECT_WITH_DB
        seq = 1
        context = tls_context(tls)
        if context is not None and greeting.capabilities & CLIENT_SSL:
            caps |= CLIENT_SSL
            head = struct.pack("<IIB", caps, identity.max_packet, identity.charset)
            wire.write(frame(head + b"\x00" * 23, seq))
            await wire.start_tls(context, server_side=False, server_hostname=server.host)
            seq += 1
        elif tls == "required":
            raise BackendLost(f"{server.name} does not offer TLS, which mysql.tls requires")
        login = Login(
            capabilities=caps,
            max_packet=identity.max_packet,
            charset=identity.charset,
            user=identity.user,
            auth=answer(greeting.scramble, identity.stage1),
            database=database,
            plugin=NATIVE_PASSWORD,
            attrs=identity.attrs,
        )
        wire.write(frame(login_packet(login), seq))
        while True:
            try:
                seq, payload = await wire.read_packet()
            except WireClosed as exc:
                raise BackendLost(f"{server.name} closed the connection: {exc}") from None
            if payload[:1] == b"\x00":
                break
            if payload[:1] == b"\xff":
                code, message = parse_err(payload)
                raise BackendError(code, bytes(payload[4:9]), message, payload)
            if payload[:1] == b"\xfe":  # switch to another plugin: only the native one works
                plugin, _, data = bytes(payload[1:]).partition(b"\x00")
                if plugin.decode() != NATIVE_PASSWORD:
                    raise BackendError(
                        1045,
                        b"28000",
                        f"{server.name} asks for the {plugin.decode()} plugin for "
                        f"{identity.user!r}; the connector speaks mysql_native_password only",
                    )
                wire.write(frame(answer(data.rstrip(b"\x00"), identity.stage1), seq + 1))
                continue
            raise ProtocolError(f"{server.name}: unexpected login reply 0x{payload[0]:02x}")
        return cls(server, wire, greeting, caps)

    # -- the forwarding path (event loop callbacks) -------------------------------------------

    def forward(
        self, data: bytes, response: Response, sink: Callable[[bytes], None], done: Done
    ) -> None:
        """Send one command; its response goes to `sink` as it arrives, then `done` is called."""
        self.response, self.sink, self.done = response, sink, done
        self.wire.write(data)

    def _data(self, data: bytes) -> None:
        response = self.response
        if response is None:
            self.unasked = True  # a server speaks unasked only to say it is closing
            return
        try:
            out = response.feed(data)
        except ProtocolError as exc:
            self.wire.abort()
            self._finish(BackendLost(f"{self.server.name}: {exc}"))
            return
        if out:
            self.sink(out)  # type: ignore[misc]
        if response.done:
            self._finish(None)

    def _lost(self, exc: BaseException | None) -> None:
        if self.response is not None:
            self._finish(BackendLost(f"{self.server.name} closed the connection"))
        if self.on_lost is not None:
            self.on_lost(self)

    def _finish(self, exc: BaseException | None) -> None:
        response, done = self.response, self.done
        self.response = self.sink = self.done = None
        if done is not None and response is not None:
            done(response, exc)

    def pause(self, paused: bool) -> None:
        """Stop reading while the application cannot take more (flow control)."""
        transport = self.wire.transport
        if transport is not None and not transport.is_closing():
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # -- the connector's own commands ----------------------------------------------------------

    def lost(self) -> bool:
        """True when the server closed this connection (or said something unasked)."""
        return self.wire.closed or self.unasked

    def send(self, payload: bytes) -> None:
        """A command without a response (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA)."""
        self.wire.write(frame(payload, 0))

    async def exchange(
        self, payload: bytes, response: Response, sink: Callable[[bytes], None]
    ) -> None:
        """Send one command and wait until its response has gone to `sink`."""
        if self.lost():
            raise BackendLost(f"{self.server.name} closed the connection")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(_: Response, exc: BaseException | None) -> None:
            if not future.done():
                if exc is None:
                    future.set_result(None)
                else:
                    future.set_exception(exc)

        self.forward(frame(payload, 0), response, sink, done)
        await future

    async def roundtrip(self, payload: bytes, response: Response) -> list[bytes]:
        chunks: list[bytes] = []
        await self.exchange(payload, response, chunks.append)
        return chunks

    async def execute(self, sql: str) -> Response:
        """Run a statement of the connector's own; raise BackendError when it fails."""
        response = Response(self.deprecate_eof, self.tracks, True, Tracked())
        chunks = await self.roundtrip(bytes([COM_QUERY]) + sql.encode(), response)
        if response.error:
            code, message = response.error
            raise BackendError(code, b"HY000", message)
        response.chunks = chunks  # type: ignore[attr-defined]
        return response

    async def rows(self, sql: str) -> list[list[bytes | None]]:
        """The text rows of a SELECT of the connector's own."""
        response = await self.execute(sql)
        return text_rows(b"".join(response.chunks), self.deprecate_eof)  # type: ignore[attr-defined]

    async def prepare(self, sql: bytes) -> tuple[int, int]:
        """(statement id, parameter count) of a statement prepared again on this server."""
        response = Response(
            self.deprecate_eof,
            self.tracks,
            True,
            Tracked(),
            state=PREPARED,
            on_prepared=lambda backend_id: backend_id,
        )
        await self.roundtrip(bytes([COM_STMT_PREPARE]) + sql, response)
        if response.error or response.prepared is None:
            code, message = response.error or (0, "no statement id")
            raise BackendError(code, b"HY000", message)
        return response.prepared[0], response.prepared[2]

    def close(self) -> None:
        """Say goodbye when the server can still hear it, then close."""
        self.on_lost = None
        if not self.wire.closed:
            self.wire.write(frame(bytes([COM_QUIT]), 0))
            self.wire.close()

    def abort(self) -> None:
        self.on_lost = None
        self.wire.abort()


def text_rows(data: bytes, deprecate_eof: bool) -> list[list[bytes | None]]:
    """Rows of a complete text result set (column count, definitions, rows, end)."""
    packets = []
    pos = 0
    while pos + 4 <= len(data):
        length = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        packets.append(data[pos + 4 : pos + 4 + length])
        pos += 4 + length
    if not packets or packets[0][:1] in (b"\x00", b"\xff"):
        return []
    columns = read_lenenc(packets[0], 0)[0]
    rows_start = 1 + columns + (0 if deprecate_eof else 1)
    rows = []
    for packet in packets[rows_start:]:
        if packet[:1] == b"\xfe" and len(packet) < MAX_PAYLOAD:
            break
        row: list[bytes | None] = []
        at = 0
        for _ in range(columns):
            if packet[at] == 0xFB:
                row.append(None)
                at += 1
                continue
            length, at = read_lenenc(packet, at)
            row.append(bytes(packet[at : at + length]))
            at += length
        rows.append(row)
    return rows
