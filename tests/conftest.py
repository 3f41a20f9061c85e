"""Fixtures shared by every test: a real emulator over HTTP and a private data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """A fresh emulator of all vendors on a free port of 127.0.0.1 (default small scale)."""
    server = EmulatorServer(Emulator(seed=42)).start()
    yield server
    server.stop()


@pytest.fixture
def make_emulator() -> Iterator:
    """Start emulators with a chosen scale: `make_emulator({"stripe.charges": 5000})`."""
    servers: list[EmulatorServer] = []

    def start(scale: dict[str, int] | None = None, seed: int = 42) -> EmulatorServer:
        server = EmulatorServer(Emulator(seed=seed, scale=scale)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def control(emulator: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(emulator.url)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private LIFEBOAT_HOME for the test."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("LIFEBOAT_HOME", str(path))
    return path
