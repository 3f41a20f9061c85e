"""One emulator socket per test module, with a fresh emulator behind it for each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer


def shared_server(scale: dict[str, int]) -> tuple[Any, Any, Any]:
    """The fixtures `http_server`, `server` and `ctl` of a module, at this scale.

    Stopping a server waits out its poll: one socket serves the module, and each test gets
    an emulator of its own behind it.
    """

    @pytest.fixture(scope="module")
    def http_server() -> Iterator[EmulatorServer]:
        server = EmulatorServer(Emulator(seed=42, scale=scale)).start()
        yield server
        server.stop()

    @pytest.fixture
    def server(http_server: EmulatorServer) -> EmulatorServer:
        fresh = Emulator(seed=42, scale=scale)
        http_server.httpd.RequestHandlerClass.emulator = fresh  # type: ignore[attr-defined]
        http_server.emulator = fresh
        return http_server

    @pytest.fixture
    def ctl(server: EmulatorServer) -> EmulatorControl:
        return EmulatorControl(server.url)

    return http_server, server, ctl
