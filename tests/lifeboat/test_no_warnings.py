"""What a person runs prints no warning: the definitions, the outage story's sensors, the UI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from automation.scenarios import SENSORS, Story
from definitions import build_definitions
from lifeboat.config import load_inventory
from lifeboat.instance import PROJECT_ROOT, load_demo_credentials
from pipelines.registry import vendors

LIFEBOAT = Path(sys.executable).parent / "lifeboat"
# Hidden from a person by Python's default filters; everything else reaches the terminal.
HIDDEN = (DeprecationWarning, PendingDeprecationWarning)
# What `dagster dev` prints once the webserver serves and the daemon runs.
UP = ("Serving dagster-webserver", "Instance is configured with the following daemons")
LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _warned(action: Callable[[], object]) -> list[str]:
    """The warnings `action` raises that a person would see, as 'Category: message'."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [
        f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, HIDDEN)
    ]


def _definitions(home: Path) -> dg.Definitions:
    return build_definitions(load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors()), home)


def test_the_definitions_load_without_a_warning(tmp_path: Path) -> None:
    # Loading binds each job's resources, as `dagster dev` and `lifeboat demo` do: the
    # BetaWarning about `owners` came from that.
    assert _warned(lambda: _definitions(tmp_path).get_repository_def()) == []


def test_the_outage_storys_sensor_ticks_warn_nothing(tmp_path: Path) -> None:
    load_demo_credentials()
    defs = _definitions(tmp_path)
    defs.get_repository_def()
    with dg.instance_for_test() as instance:
        story = Story(defs, instance)

        def tick_twice() -> None:
            for _ in range(2):
                for name in SENSORS:
                    story.tick(name)

        assert _warned(tick_twice) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _location_loaded(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": LOCATION_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return False
    entries = body["data"]["workspaceOrError"].get("locationEntries") or []
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def _started_with(home: Path) -> list[int]:
    """The live processes whose environment names this data home: all `lifeboat ui` started."""
    marker = f"LIFEBOAT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue  # gone, or not ours
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _interrupt(process: subprocess.Popen[bytes], home: Path) -> tuple[int | None, list[int]]:
    """Ctrl-C, as a terminal sends it to its foreground process group.

    Returns the exit code (None if it did not exit) and what was still running after it.
    """
    os.killpg(process.pid, signal.SIGINT)
    try:
        code: int | None = process.wait(timeout=150)
    except subprocess.TimeoutExpired:
        code = None
    deadline = time.monotonic() + 30
    while (left := _started_with(home)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # started by this test: it must not outlive it
    if process.poll() is None:
        process.kill()
        process.wait()
    return code, left


def test_lifeboat_ui_starts_and_stops_without_a_warning(tmp_path: Path) -> None:
    """`make ui` as a person runs it, from any directory; its whole output is read."""
    emulator_port, ui_port = _free_port(), _free_port()
    config = tmp_path / "lifeboat.yaml"
    shipped = (PROJECT_ROOT / "lifeboat.yaml").read_text()
    config.write_text(shipped.replace("8765", str(emulator_port)))
    home = tmp_path / "home"
    env = {**os.environ, "LIFEBOAT_HOME": str(home), "LIFEBOAT_CONFIG": str(config)}
    output = tmp_path / "ui.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [str(LIFEBOAT), "ui", "--port", str(ui_port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A terminal's Ctrl-C must reach the children even where this runs in background.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 300
            while not _location_loaded(ui_port):
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, "the UI did not load the definitions"
                time.sleep(1)
            # The webserver and the daemon say when they are up; what they warn comes before.
            deadline = time.monotonic() + 60
            while not all(ready in output.read_text() for ready in UP):
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(1)
        finally:
            code, left = _interrupt(process, home)
    text = output.read_text()
    assert code == 0, text
    assert left == [], f"still running after Ctrl-C: {left}\n{text}"
    assert f"emulators started at http://127.0.0.1:{emulator_port}" in text
    for noise in ("Warning", "WARNING", "will not be used", "Traceback"):
        assert noise not in text, text
    assert "Dagster services shut down" in text
