"""One connection from the connector to a server, logged in as an application's user."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
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
from replication.topology import Server


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


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(sequence id, payload) of one logical packet, continuations joined."""
    parts = []
    while True:
        header = await reader.readexactly(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        parts.append(await reader.readexactly(length) if length else b"")
        if length < MAX_PAYLOAD:
            return header[3], b"".join(parts) if len(parts) > 1 else parts[0]


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
    """An authenticated server session with the state tracking the connector relies on."""

    def __init__(
        self,
        server: Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        greeting: Greeting,
        capabilities: int,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.greeting = greeting
        self.capabilities = capabilities
        self.tracks = bool(capabilities & CLIENT_SESSION_TRACK)

    @classmethod
    async def open(
        cls,
        server: Server,
        identity: Identity,
        database: str | None,
        tls: str,
        timeout: float,
    ) -> Backend:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(server.host, server.port), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise BackendLost(f"{server.name} ({server.address}): {exc}") from None
        try:
            return await asyncio.wait_for(
                cls._login(server, reader, writer, identity, database, tls), timeout
            )
        except BaseException:
            writer.close()
            raise

    @classmethod
    async def _login(
        cls,
        server: Server,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        identity: Identity,
        database: str | None,
        tls: str,
    ) -> Backend:
        try:
            _, payload = await read_packet(reader)
        except (asyncio.IncompleteReadError, OSError) as exc:
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
            writer.write(
                frame(
                    struct.pack("<IIB", caps, identity.max_packet, identity.charset) + b"\x00" * 23,
                    seq,
                )
            )
            await writer.drain()
            await writer.start_tls(context, server_hostname=server.host)
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
        writer.write(frame(login_packet(login), seq))
        await writer.drain()
        while True:
            seq, payload = await read_packet(reader)
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
                writer.write(frame(answer(data.rstrip(b"\x00"), identity.stage1), seq + 1))
                await writer.drain()
                continue
            raise ProtocolError(f"{server.name}: unexpected login reply 0x{payload[0]:02x}")
        backend = cls(server, reader, writer, greeting, caps)
        if backend.tracks:
            await backend.execute(
                "SET SESSION session_track_system_variables='*', session_track_schema=ON, "
                "session_track_state_change=ON"
            )
        return backend

    @property
    def deprecate_eof(self) -> bool:
        return bool(self.capabilities & CLIENT_DEPRECATE_EOF)

    def lost(self) -> bool:
        """True when the server closed this connection (or sent something unasked)."""
        # StreamReader keeps reading in the background: EOF or stray bytes show while idle.
        return (
            self.writer.is_closing()
            or self.reader.at_eof()
            or bool(getattr(self.reader, "_buffer", b""))
            or bool(getattr(self.reader, "_eof", False))
        )

    def send(self, payload: bytes) -> None:
        self.writer.write(frame(payload, 0))

    async def roundtrip(self, payload: bytes, response: Response) -> list[bytes]:
        """Send one command and read its whole response (for the connector's own commands)."""
        self.send(payload)
        chunks = []
        try:
            while not response.done:
                data = await self.reader.read(1 << 16)
                if not data:
                    raise BackendLost(f"{self.server.name} closed the connection")
                chunks.append(response.feed(data))
        except OSError as exc:
            raise BackendLost(f"{self.server.name}: {exc}") from None
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
        ids: list[int] = []
        response = Response(
            self.deprecate_eof,
            self.tracks,
            True,
            Tracked(),
            state=PREPARED,
            on_prepared=lambda backend_id: ids.append(backend_id) or backend_id,
        )
        await self.roundtrip(bytes([COM_STMT_PREPARE]) + sql, response)
        if response.error or response.prepared is None:
            code, message = response.error or (0, "no statement id")
            raise BackendError(code, b"HY000", message)
        return response.prepared[0], response.prepared[2]

    def close(self) -> None:
        """Say goodbye when the server can still hear it, then close."""
        if not self.writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write(frame(bytes([COM_QUIT]), 0))
            self.writer.close()


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
