"""`lifeboat emulate` as the README runs it: a real process on a chosen port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials

LIFEBOAT = Path(sys.executable).parent / "lifeboat"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_banner(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            return line
        if process.poll() is not None:
            break
    raise AssertionError(f"no banner from `lifeboat emulate` (rc {process.poll()})")


def test_emulate_serves_the_scale_asked_for_on_the_port_asked_for() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(LIFEBOAT), "emulate", "--port", str(port), "--scale", "stripe.charges=250"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _wait_for_banner(process, time.monotonic() + 30)
        assert f"http://127.0.0.1:{port}" in banner
        key = demo_credentials(["stripe"])["stripe"]["api_key"]
        ids: list[str] = []
        params: dict[str, object] = {"limit": 100}
        while True:
            body = requests.get(
                f"http://127.0.0.1:{port}/stripe/v1/charges",
                params=params,
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ).json()
            ids += [charge["id"] for charge in body["data"]]
            if not body["has_more"]:
                break
            params["starting_after"] = ids[-1]
        assert len(set(ids)) == 250
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_port_in_use_is_refused_with_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(LIFEBOAT), "emulate", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_emulate_says_who_it_is_checkout_pid_seed_and_clock() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(LIFEBOAT), "emulate", "--port", str(port), "--seed", "7", "--start", "2026-03-01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_banner(process, time.monotonic() + 30)
        identity = EmulatorControl(f"http://127.0.0.1:{port}").identity()
        state = EmulatorControl(f"http://127.0.0.1:{port}").state()
    finally:
        process.terminate()
        process.wait(timeout=10)
    checkout = Path(__file__).resolve().parents[2]
    assert identity == {
        "service": "lifeboat-emulators",
        "checkout": str(checkout),
        "pid": process.pid,
        "seed": 7,
        "start": 1_772_323_200,  # 2026-03-01T00:00:00Z
        "start_day": "2026-03-01",
    }
    assert state["identity"] == identity
