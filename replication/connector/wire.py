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

from replication.connector.packets import take


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
        # TLS over memory buffers: bytes that arrived with the TLS request (a client's
        # ClientHello right behind it) go to the TLS layer, never lost between two layers.
        self._tls: ssl.SSLObject | None = None
        self._tls_in = ssl.MemoryBIO()
        self._tls_out = ssl.MemoryBIO()
        self._handshaking = False
        self._tls_error: BaseException | None = None

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
        if self._tls is not None:
            self._tls_in.write(data)
            self._tls_received()
            return
        self._plain_received(data)

    def _plain_received(self, data: bytes) -> None:
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
        whole = take(self.buffer)
        if whole is None:
            return None
        del self.buffer[: whole.used]
        return whole.seq, whole.payload

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
            if self._tls is not None:
                self._tls.write(data)
                self._flush_tls()
            else:
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
        """Continue this connection over TLS, starting with whatever is already buffered."""
        self._tls = context.wrap_bio(
            self._tls_in, self._tls_out, server_side=server_side, server_hostname=server_hostname
        )
        if self.buffer:
            self._tls_in.write(bytes(self.buffer))
            self.buffer.clear()
        self._handshaking = True
        while self._handshaking:
            self._tls_received()
            if not self._handshaking:
                break
            if self.closed:
                raise WireClosed(str(self.error or "closed during the TLS handshake"))
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._tls_error is not None:
            raise WireClosed(f"the TLS handshake failed: {self._tls_error}")

    def _tls_received(self) -> None:
        tls = self._tls
        assert tls is not None
        if self._handshaking:
            try:
                tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush_tls()
                return
            except ssl.SSLError as exc:
                self._flush_tls()
                self.error = self._tls_error = exc
                self.abort()
                self._handshaking = False
                self._wake()
                return
            self._handshaking = False
            self._flush_tls()
            self._wake()
        chunks = []
        while True:
            try:
                chunk = tls.read(1 << 16)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLError):
                self.close()
                break
            if not chunk:
                break
            chunks.append(chunk)
        self._flush_tls()
        if chunks:
            self._plain_received(b"".join(chunks))

    def _flush_tls(self) -> None:
        pending = self._tls_out.read()
        if pending and self.transport is not None and not self.transport.is_closing():
            self.transport.write(pending)
