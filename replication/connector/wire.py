"""One TCP connection of the connector, as an asyncio protocol with two ways of reading.

While a connection logs in, packets are read one at a time (`read_packet`, awaited). Once
it carries commands, every chunk goes straight to a callback (`on_data`): the forwarding path
runs in the event loop's own callbacks, without a task switch or a future per packet.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

from replication.connector.settings import MAX_PAYLOAD


class WireClosed(ConnectionError):
    """The peer closed the connection (or it broke)."""


class Wire(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.error: BaseException | None = None
        self.on_data: Callable[[bytes], None] | None = None
        self.on_lost: Callable[[BaseException | None], None] | None = None
        self.on_pause: Callable[[bool], None] | None = None
        self.on_made: Callable[[Wire], None] | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Every packet is a question or an answer someone waits for: never hold it back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        if self.on_data is not None:
            self.on_data(data)
            return
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        return False  # close: a half-closed MySQL connection is a closed one

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()
        if self.on_lost is not None:
            self.on_lost(exc)

    def pause_writing(self) -> None:
        if self.on_pause is not None:
            self.on_pause(True)

    def resume_writing(self) -> None:
        if self.on_pause is not None:
            self.on_pause(False)

    # -- reading packets one by one ------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _take(self) -> tuple[int, bytes] | None:
        buffer = self.buffer
        pos = 0
        parts = []
        seq = 0
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
                del buffer[:pos]
                return seq, parts[0] if len(parts) == 1 else b"".join(parts)

    async def read_packet(self) -> tuple[int, bytes]:
        """(sequence id, payload) of the next logical packet, continuations joined."""
        while True:
            packet = self._take()
            if packet is not None:
                return packet
            if self.closed:
                raise WireClosed(str(self.error or "connection closed"))
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def stream(self, on_data: Callable[[bytes], None]) -> None:
        """From now on every chunk goes to `on_data`, starting with what is buffered."""
        self.on_data = on_data
        if self.buffer:
            pending = bytes(self.buffer)
            self.buffer.clear()
            on_data(pending)

    def unstream(self) -> None:
        self.on_data = None

    # -- writing -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def start_tls(
        self, context: ssl.SSLContext, server_side: bool, server_hostname: str | None = None
    ) -> None:
        """Continue this connection over TLS (the protocol stays this object)."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            self.transport,
            self,
            context,
            server_side=server_side,
            server_hostname=server_hostname,
        )
        if transport is None:
            raise WireClosed("TLS could not start")
        self.transport = transport  # type: ignore[assignment]
