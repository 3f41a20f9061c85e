"""The MySQL/MariaDB client protocol's packets: framing, handshakes, OK/ERR, and response ends."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from replication.connector.settings import (
    CLIENT_CONNECT_ATTRS,
    CLIENT_CONNECT_WITH_DB,
    CLIENT_LONG_PASSWORD,
    CLIENT_PLUGIN_AUTH,
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
    CLIENT_PROTOCOL_41,
    CLIENT_SECURE_CONNECTION,
    CLIENT_SSL,
    MAX_PAYLOAD,
    SERVER_MORE_RESULTS_EXISTS,
    SERVER_SESSION_STATE_CHANGED,
    SERVER_STATUS_CURSOR_EXISTS,
    SESSION_TRACK_SCHEMA,
    SESSION_TRACK_STATE_CHANGE,
    SESSION_TRACK_SYSTEM_VARIABLES,
)


class ProtocolError(Exception):
    """A peer sent bytes that are not the protocol."""


def frame(payload: bytes, seq: int = 0) -> bytes:
    """One payload as wire packets (split at 16 MB as the protocol requires)."""
    if len(payload) < MAX_PAYLOAD:
        return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload
    parts = []
    view = memoryview(payload)
    while True:
        chunk = view[:MAX_PAYLOAD]
        parts.append(struct.pack("<I", len(chunk))[:3] + bytes([seq & 0xFF]) + bytes(chunk))
        seq += 1
        view = view[MAX_PAYLOAD:]
        if len(chunk) < MAX_PAYLOAD:
            break
    return b"".join(parts)


@dataclass(frozen=True)
class Whole:
    """One logical packet found at the start of a buffer: continuations joined."""

    seq: int  # the sequence id of its last physical packet
    packets: int  # how many physical packets it took (a payload of 16 MB or more takes two)
    used: int  # bytes of the buffer it spans
    payload: bytes


def take(buffer: bytearray) -> Whole | None:
    """The logical packet at the start of `buffer`, or None while it is incomplete."""
    pos = 0
    parts = []
    while True:
        if len(buffer) - pos < 4:
            return None
        length = buffer[pos] | buffer[pos + 1] << 8 | buffer[pos + 2] << 16
        if len(buffer) - pos - 4 < length:
            return None
        seq = buffer[pos + 3]
        parts.append(bytes(buffer[pos + 4 : pos + 4 + length]))
        pos += 4 + length
        if length < MAX_PAYLOAD:
            return Whole(seq, len(parts), pos, parts[0] if len(parts) == 1 else b"".join(parts))


def lenenc_int(value: int) -> bytes:
    if value < 251:
        return bytes([value])
    if value < 1 << 16:
        return b"\xfc" + struct.pack("<H", value)
    if value < 1 << 24:
        return b"\xfd" + struct.pack("<I", value)[:3]
    return b"\xfe" + struct.pack("<Q", value)


def lenenc_str(value: bytes) -> bytes:
    return lenenc_int(len(value)) + value


def read_lenenc(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of a length-encoded integer."""
    first = data[pos]
    if first < 251:
        return first, pos + 1
    if first == 0xFC:
        return struct.unpack_from("<H", data, pos + 1)[0], pos + 3
    if first == 0xFD:
        return int.from_bytes(data[pos + 1 : pos + 4], "little"), pos + 4
    if first == 0xFE:
        return struct.unpack_from("<Q", data, pos + 1)[0], pos + 9
    raise ProtocolError(f"bad length-encoded integer 0x{first:02x}")


def read_lenenc_str(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = read_lenenc(data, pos)
    return bytes(data[pos : pos + length]), pos + length


def read_nul(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.index(b"\x00", pos) if b"\x00" in data[pos:] else len(data)
    return bytes(data[pos:end]), end + 1


def ok_packet(status: int, warnings: int = 0, affected: int = 0, insert_id: int = 0) -> bytes:
    return (
        b"\x00"
        + lenenc_int(affected)
        + lenenc_int(insert_id)
        + struct.pack("<HH", status & ~SERVER_SESSION_STATE_CHANGED, warnings)
    )


def err_packet(code: int, sqlstate: bytes, message: str) -> bytes:
    return b"\xff" + struct.pack("<H", code) + b"#" + sqlstate + message.encode()[:4000]


def parse_err(payload: bytes) -> tuple[int, str]:
    """(code, message) of an ERR packet."""
    code = struct.unpack_from("<H", payload, 1)[0]
    message = payload[3:]
    if message[:1] == b"#":
        message = message[6:]
    return code, bytes(message).decode("utf-8", "replace")


@dataclass
class Greeting:
    """A server's initial handshake (HandshakeV10)."""

    version: bytes
    thread_id: int
    scramble: bytes
    capabilities: int
    charset: int
    status: int
    plugin: str
    extended: int = 0  # MariaDB's extended capabilities, when the server is MariaDB


def parse_greeting(payload: bytes) -> Greeting:
    if payload[:1] == b"\xff":
        raise ProtocolError(parse_err(payload)[1])
    if payload[0] != 10:
        raise ProtocolError(f"unsupported handshake version {payload[0]}")
    version, pos = read_nul(payload, 1)
    thread_id = struct.unpack_from("<I", payload, pos)[0]
    part1 = bytes(payload[pos + 4 : pos + 12])
    pos += 13
    caps_low = struct.unpack_from("<H", payload, pos)[0]
    charset = payload[pos + 2]
    status = struct.unpack_from("<H", payload, pos + 3)[0]
    caps_high = struct.unpack_from("<H", payload, pos + 5)[0]
    auth_len = payload[pos + 7]
    extended = struct.unpack_from("<I", payload, pos + 14)[0]
    pos += 18
    capabilities = caps_low | caps_high << 16
    part2_len = max(13, auth_len - 8)
    part2 = bytes(payload[pos : pos + part2_len]).rstrip(b"\x00")
    pos += part2_len
    plugin = ""
    if capabilities & CLIENT_PLUGIN_AUTH:
        plugin = read_nul(payload, pos)[0].decode()
    return Greeting(
        version,
        thread_id,
        part1 + part2,
        capabilities,
        charset,
        status,
        plugin,
        0 if capabilities & CLIENT_LONG_PASSWORD else extended,
    )


def greeting_packet(g: Greeting) -> bytes:
    """A HandshakeV10 as a MariaDB server writes it (no extended capabilities offered)."""
    caps = g.capabilities
    return (
        b"\x0a"
        + g.version
        + b"\x00"
        + struct.pack("<I", g.thread_id)
        + g.scramble[:8]
        + b"\x00"
        + struct.pack("<HBHH", caps & 0xFFFF, g.charset, g.status, caps >> 16 & 0xFFFF)
        + bytes([len(g.scramble) + 1])
        + b"\x00" * 6
        + struct.pack("<I", g.extended)
        + g.scramble[8:]
        + b"\x00"
        + g.plugin.encode()
        + b"\x00"
    )


@dataclass
class Login:
    """A client's handshake response (HandshakeResponse41)."""

    capabilities: int
    max_packet: int
    charset: int
    user: str
    auth: bytes
    database: str | None
    plugin: str
    attrs: bytes = b""  # the raw connection attributes block, passed on
    extended: int = 0


def is_ssl_request(payload: bytes) -> bool:
    return len(payload) == 32 and bool(struct.unpack_from("<I", payload)[0] & CLIENT_SSL)


def parse_login(payload: bytes) -> Login:
    if len(payload) < 32:
        raise ProtocolError("handshake response too short")
    caps, max_packet, charset = struct.unpack_from("<IIB", payload)
    if not caps & CLIENT_PROTOCOL_41:
        raise ProtocolError("clients before protocol 4.1 are not supported")
    extended = struct.unpack_from("<I", payload, 28)[0]
    user, pos = read_nul(payload, 32)
    if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        auth, pos = read_lenenc_str(payload, pos)
    elif caps & CLIENT_SECURE_CONNECTION:
        auth, pos = bytes(payload[pos + 1 : pos + 1 + payload[pos]]), pos + 1 + payload[pos]
    else:
        auth, pos = read_nul(payload, pos)
    database = None
    if caps & CLIENT_CONNECT_WITH_DB and pos < len(payload):
        db, pos = read_nul(payload, pos)
        database = db.decode() or None
    plugin = ""
    if caps & CLIENT_PLUGIN_AUTH and pos < len(payload):
        name, pos = read_nul(payload, pos)
        plugin = name.decode()
    attrs = bytes(payload[pos:]) if caps & CLIENT_CONNECT_ATTRS else b""
    return Login(caps, max_packet, charset, user.decode(), auth, database, plugin, attrs, extended)


def login_packet(login: Login) -> bytes:
    caps = login.capabilities
    body = struct.pack("<IIB", caps, login.max_packet, login.charset) + b"\x00" * 19
    body += struct.pack("<I", login.extended) + login.user.encode() + b"\x00"
    if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        body += lenenc_str(login.auth)
    else:
        body += bytes([len(login.auth)]) + login.auth
    if caps & CLIENT_CONNECT_WITH_DB:
        body += (login.database or "").encode() + b"\x00"
    if caps & CLIENT_PLUGIN_AUTH:
        body += login.plugin.encode() + b"\x00"
    if caps & CLIENT_CONNECT_ATTRS:
        body += login.attrs or b"\x00"
    return body


@dataclass
class Tracked:
    """Session state a server reported in OK packets."""

    variables: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    state_changed: bool = False


def parse_ok(payload: bytes, track: bool, into: Tracked | None) -> tuple[int, int, int]:
    """(status, warnings, offset of the info) of an OK packet; tracked state goes `into`."""
    _, pos = read_lenenc(payload, 1)
    _, pos = read_lenenc(payload, pos)
    status, warnings = struct.unpack_from("<HH", payload, pos)
    pos += 4
    if track and into is not None and status & SERVER_SESSION_STATE_CHANGED and pos < len(payload):
        _, after = read_lenenc_str(payload, pos)
        _read_tracked(payload, after, into)
    return status, warnings, pos


def _read_tracked(payload: bytes, pos: int, into: Tracked) -> None:
    total, pos = read_lenenc(payload, pos)
    end = pos + total
    while pos < end:
        kind = payload[pos]
        data, pos = read_lenenc_str(payload, pos + 1)
        if kind == SESSION_TRACK_SYSTEM_VARIABLES:
            name, at = read_lenenc_str(data, 0)
            value, _ = read_lenenc_str(data, at)
            into.variables[name.decode()] = value.decode("utf-8", "replace")
        elif kind == SESSION_TRACK_SCHEMA:
            into.schema = read_lenenc_str(data, 0)[0].decode() or None
        elif kind == SESSION_TRACK_STATE_CHANGE:
            into.state_changed = True


def strip_tracking(payload: bytes) -> bytes:
    """An OK packet written for a server session with CLIENT_SESSION_TRACK, as a client
    without it expects (info as the rest of the packet, no state-change flag)."""
    _, pos = read_lenenc(payload, 1)
    _, pos = read_lenenc(payload, pos)
    status, warnings = struct.unpack_from("<HH", payload, pos)
    head = bytes(payload[:pos]) + struct.pack(
        "<HH", status & ~SERVER_SESSION_STATE_CHANGED, warnings
    )
    pos += 4
    info = read_lenenc_str(payload, pos)[0] if pos < len(payload) else b""
    return head + info


# Where a response is, packet by packet.
FIRST, COLUMNS, COLUMNS_EOF, ROWS, PREPARED, FIELDS, SINGLE, DONE = range(8)


class Response:
    """Follows one command's response as it streams through, to know where it ends.

    Rows pass through untouched; only the first packet, column counts and the packets
    that end a result (EOF/OK/ERR) are read. `feed` returns the bytes to forward, which
    differ from the input only where an OK packet is rewritten for the client.
    """

    # One per command, on the forwarding path: slots keep it cheap to make.
    __slots__ = (
        "_continuing",
        "_pending",
        "_prepare_parts",
        "_skip",
        "chunks",
        "columns_left",
        "deprecate_eof",
        "error",
        "on_error",
        "params_then_columns",
        "prepared",
        "rewrite_prepared",
        "server_tracks",
        "started",
        "state",
        "status",
        "strip",
        "tracked",
        "warnings",
    )

    def __init__(
        self,
        deprecate_eof: bool,
        server_tracks: bool,
        client_tracks: bool,
        tracked: Tracked,
        state: int = FIRST,
        on_prepared: object = None,
    ) -> None:
        self.deprecate_eof = deprecate_eof
        self.server_tracks = server_tracks
        self.strip = server_tracks and not client_tracks
        self.tracked = tracked
        self.state = DONE if state == DONE else state
        self.columns_left = 0
        self.params_then_columns: tuple[int, int] = (0, 0)
        self.status: int | None = None
        self.warnings = 0
        self.error: tuple[int, str] | None = None
        self.prepared: tuple[int, int, int] | None = None  # backend id, columns, params
        self.rewrite_prepared: object = on_prepared  # callable(backend id) -> client id
        self.started = False
        # Called with the code of an ERR packet; returns a payload to send instead, or None.
        self.on_error: Callable[[int], bytes | None] | None = None
        self._pending = b""
        self._skip = 0
        self._continuing = False

    @property
    def done(self) -> bool:
        return self.state == DONE

    def feed(self, data: bytes) -> bytes:
        buf = self._pending + data if self._pending else data
        n = len(buf)
        pos = 0
        start = 0
        out: list[bytes] | None = None
        if self._skip:
            pos = min(self._skip, n)
            self._skip -= pos
        state = self.state
        while pos < n and state != DONE:
            if n - pos < 4:
                break
            length = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16
            end = pos + 4 + length
            if self._continuing or length == MAX_PAYLOAD:
                # A payload of 16 MB or more: a row or a column, never the end of anything.
                if not self._continuing:
                    self._whole_packet_seen()
                    state = self.state
                self._continuing = length == MAX_PAYLOAD
            elif state == COLUMNS:
                self._column_seen()  # counted, never read
                state = self.state
            elif not (state == ROWS and length and buf[pos + 4] not in (0xFE, 0xFF)):
                # Not a row: the first packet of a result, an end, an error: read it whole.
                if end > n:
                    break
                replacement = self._packet(buf[pos + 4 : end])
                state = self.state
                if replacement is not None:
                    if out is None:
                        out = []
                    out.append(buf[start:pos])
                    out.append(struct.pack("<I", len(replacement))[:3] + buf[pos + 3 : pos + 4])
                    out.append(replacement)
                    start = end
            if end > n:  # the rest of this packet comes with the next chunks
                self._skip = end - n
                pos = n
                break
            pos = end
        self._pending = bytes(buf[pos:]) if pos < n else b""
        self.started = self.started or pos > 0
        if out is None:
            return buf if pos == n else buf[:pos]
        out.append(buf[start:pos])
        return b"".join(out)

    def _whole_packet_seen(self) -> None:
        if self.state == COLUMNS:
            self._column_seen()
        elif self.state == FIRST:
            raise ProtocolError("a 16 MB first packet of a response")

    def _column_seen(self) -> None:
        self.columns_left -= 1
        if self.columns_left <= 0:
            self.state = ROWS if self.deprecate_eof else COLUMNS_EOF

    def _end(self, status: int) -> None:
        self.status = status
        self.state = FIRST if status & SERVER_MORE_RESULTS_EXISTS else DONE

    def _ok(self, payload: bytes) -> bytes | None:
        status, self.warnings, _ = parse_ok(payload, self.server_tracks, self.tracked)
        self._end(status)
        return strip_tracking(payload) if self.strip else None

    def _packet(self, payload: bytes) -> bytes | None:
        first = payload[0] if payload else None
        state = self.state
        if first == 0xFF and state != COLUMNS:
            self.error = parse_err(payload)
            self.state = DONE
            return self.on_error(self.error[0]) if self.on_error is not None else None
        if state == FIRST:
            if first == 0x00:
                return self._ok(payload)
            if first == 0xFB:
                raise ProtocolError("LOAD DATA LOCAL is not offered by the connector")
            self.columns_left = read_lenenc(payload, 0)[0]
            self.state = COLUMNS
        elif state == COLUMNS:
            self._column_seen()
        elif state == COLUMNS_EOF:
            status = struct.unpack_from("<H", payload, 3)[0]
            self.status = status
            self.state = DONE if status & SERVER_STATUS_CURSOR_EXISTS else ROWS
        elif state == ROWS:
            if self.deprecate_eof:
                return self._ok(payload)
            self.warnings, status = struct.unpack_from("<HH", payload, 1)
            self._end(status)
        elif state == PREPARED:
            return self._prepared(payload)
        elif state == FIELDS:
            if first == 0xFE:  # a column definition never starts with 0xFE
                self.state = DONE
        elif state == SINGLE:
            self.state = DONE
        return None

    def _prepared(self, payload: bytes) -> bytes | None:
        if self.prepared is None:
            backend_id, columns, params = struct.unpack_from("<IHH", payload, 1)
            self.prepared = (backend_id, columns, params)
            self._prepare_parts = [n for n in (params, columns) if n]
            self._next_prepare_part()
            assert callable(self.rewrite_prepared)
            client_id = self.rewrite_prepared(backend_id)
            return payload[:1] + struct.pack("<I", client_id) + payload[5:]
        if self.columns_left > 0:
            self.columns_left -= 1
            if self.columns_left == 0 and self.deprecate_eof:
                self._next_prepare_part()
            elif self.columns_left == 0:
                self.columns_left = -1  # an EOF follows
        else:
            self._next_prepare_part()
        return None

    def _next_prepare_part(self) -> None:
        if self._prepare_parts:
            self.columns_left = self._prepare_parts.pop(0)
        else:
            self.state = DONE
