"""A bare TCP relay on uvloop, the floor a Python proxy cannot go below, for the benchmarks.

It relays bytes both ways and reads nothing: what the connector costs beyond it is what its
protocol handling costs; what it costs beyond direct is what any Python proxy costs here.
`python -m bench.passthrough TARGET_PORT LISTEN_PORT` runs it; `Passthrough` starts it as a
process of its own, as the connector runs.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import uvloop

START_TIMEOUT = 10.0


class _Side(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        peer = self.peer.transport if self.peer is not None else None
        if peer is None:
            self.pending.append(data)
        elif not peer.is_closing():
            peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer.transport if self.peer is not None else None
        if peer is not None and not peer.is_closing():
            peer.close()


def _client_side(target: int) -> type[_Side]:
    class Client(_Side):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            asyncio.get_running_loop().create_task(self._open())

        async def _open(self) -> None:
            loop = asyncio.get_running_loop()
            _, server = await loop.create_connection(_Side, "127.0.0.1", target)
            server.peer, self.peer = self, server
            # Either side may have spoken before the two were paired (the server greets first).
            for side, data in [(server, d) for d in self.pending] + [
                (self, d) for d in server.pending
            ]:
                side.transport.write(data)  # type: ignore[union-attr]
            self.pending.clear()
            server.pending.clear()

    return Client


async def _serve(target: int, listen: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_client_side(target), "127.0.0.1", listen)
    await server.serve_forever()


class Passthrough:
    """The relay as a process of its own on a free port."""

    def __init__(self, target: int) -> None:
        self.target = target
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "bench.passthrough", str(self.target), str(self.port)]
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the passthrough relay did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


if __name__ == "__main__":
    uvloop.run(_serve(int(sys.argv[1]), int(sys.argv[2])))
