"""The demo's emulators: their data runs up to today, and only this checkout's are reused."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from emulators.credentials import demo_credentials
from lifeboat.config import load_inventory
from lifeboat.demo import start_demo_emulators
from lifeboat.errors import LifeboatError
from lifeboat.instance import PROJECT_ROOT, emulator_identity, start_emulator

HOST = "127.0.0.1"
DAY = "2026-03-01"
WHAT_TO_DO = "set emulator.port in lifeboat.yaml to a free port"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def emulators(seed: int = 42, start: str = DAY) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """This checkout's emulators in their own process on a free port, as the demo starts them."""
    port = _free_port()
    process = start_emulator(HOST, port, seed, start=start, quiet=True)
    assert process is not None
    try:
        yield port, process
    finally:
        _stop(process)


def test_the_demo_emulators_hold_records_created_today(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "lifeboat.yaml"
    config.write_text(f"emulator: {{host: {HOST}, port: {port}, seed: 42}}\n")
    process = start_demo_emulators(load_inventory(config))
    try:
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        assert emulator_identity(f"http://{HOST}:{port}")["start_day"] == today
        key = demo_credentials(["stripe"])["stripe"]["api_key"]
        newest = requests.get(
            f"http://{HOST}:{port}/stripe/v1/charges",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).json()["data"][0]
        created = datetime.fromtimestamp(newest["created"], UTC)
        # The newest charge is from the last day up to today, not from the fixed 2025-12-31.
        assert datetime.now(UTC) - created < timedelta(days=2)
    finally:
        _stop(process)


def test_the_emulators_say_who_they_are() -> None:
    with emulators(seed=7) as (port, process):
        identity = emulator_identity(f"http://{HOST}:{port}")
    assert identity == {
        "service": "lifeboat-emulators",
        "checkout": str(PROJECT_ROOT),
        "pid": process.pid,
        "seed": 7,
        "start": int(datetime.fromisoformat(f"{DAY}T00:00:00+00:00").timestamp()),
        "start_day": DAY,
    }


def test_this_checkouts_emulators_with_the_same_seed_and_clock_are_reused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with emulators() as (port, process):
        assert start_emulator(HOST, port, 42, start=DAY) is None
        assert process.poll() is None
    assert f"emulators already running at http://{HOST}:{port} (pid {process.pid})" in (
        capsys.readouterr().out
    )


def test_another_checkouts_emulators_are_refused_naming_the_checkout_and_pid(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other-checkout"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PROJECT_ROOT / "emulators", other / "emulators", ignore=skip)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators", "--port", str(port), "--start", DAY],
        cwd=other,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not emulator_identity(f"http://{HOST}:{port}"):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        with pytest.raises(LifeboatError) as refused:
            start_emulator(HOST, port, 42, start=DAY)
    finally:
        _stop(process)
    text = str(refused.value)
    assert f"{HOST}:{port} is held by lifeboat's emulators from another checkout" in text
    assert f"({other}, pid {process.pid}); stop them (kill {process.pid})" in text
    assert WHAT_TO_DO in text


def test_this_checkouts_emulators_with_another_seed_are_refused() -> None:
    with emulators(seed=7) as (port, process):
        with pytest.raises(LifeboatError) as refused:
            start_emulator(HOST, port, 42, start=DAY)
        assert process.poll() is None  # refused, not stopped: they are someone's
    assert f"this checkout's emulators with seed 7, not 42 (pid {process.pid})" in str(
        refused.value
    )


def test_this_checkouts_emulators_with_another_clock_are_refused() -> None:
    with emulators(start="2026-01-01") as (port, process), pytest.raises(LifeboatError) as refused:
        start_emulator(HOST, port, 42, start=DAY)
    text = str(refused.value)
    assert f"a clock that started on 2026-01-01, not {DAY} (pid {process.pid})" in text
    assert WHAT_TO_DO in text


class _Page(BaseHTTPRequestHandler):
    """A web server that is not the emulators: every path is a 404 page."""

    def do_GET(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _OlderEmulators(_Page):
    """Emulators from before they said who they are: a state, but no identity."""

    def do_GET(self) -> None:
        if self.path != "/_emulator/state":
            return super().do_GET()
        body = b'{"now": 1767225600, "seed": 42, "datasets": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_web_server_that_is_not_the_emulators_is_refused() -> None:
    with _serving(_Page) as port, pytest.raises(LifeboatError) as refused:
        start_emulator(HOST, port, 42, start=DAY)
    assert str(refused.value) == (
        f"{HOST}:{port} is held by something that is not lifeboat's emulators; stop it, "
        "or set emulator.port in lifeboat.yaml to a free port and the vendors' base_url to "
        "the same port"
    )


def test_a_listener_that_never_answers_is_refused() -> None:
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(LifeboatError) as refused:
            start_emulator(HOST, port, 42, start=DAY)
    assert "is held by something that is not lifeboat's emulators; stop it" in str(refused.value)


def test_older_emulators_that_cannot_say_where_they_run_from_are_refused() -> None:
    with _serving(_OlderEmulators) as port, pytest.raises(LifeboatError) as refused:
        start_emulator(HOST, port, 42, start=DAY)
    text = str(refused.value)
    assert "is held by lifeboat's emulators of an older version" in text
    assert WHAT_TO_DO in text
