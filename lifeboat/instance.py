"""Where Dagster keeps its state (under the data directory) and the demo's credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lifeboat.errors import LifeboatError
from lifeboat.paths import DataHome

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_ENV = PROJECT_ROOT / "emulators" / "demo.env"


def dagster_home(home: Path) -> Path:
    """Make `<home>/dagster` the Dagster instance, configured by the project's dagster.yaml."""
    target = DataHome(home).dagster_dir
    target.mkdir(parents=True, exist_ok=True)
    source = PROJECT_ROOT / "dagster.yaml"
    config = target / "dagster.yaml"
    if not config.exists() or config.read_bytes() != source.read_bytes():
        shutil.copyfile(source, config)
    os.environ["DAGSTER_HOME"] = str(target)
    return target


def load_demo_credentials(path: Path = DEMO_ENV) -> list[str]:
    """Set the emulators' demo credentials for every variable that is not set already."""
    applied = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if name not in os.environ:
            os.environ[name] = value
            applied.append(name)
    return applied


def _emulator_running(url: str) -> bool:
    from emulators.control import EmulatorControl

    try:
        EmulatorControl(url).state()
    except OSError:
        return False
    return True


def start_emulator(
    host: str, port: int, seed: int, start: str | None = None, quiet: bool = False
) -> subprocess.Popen[bytes] | None:
    """Start the emulators in a child process unless they already answer on that port.

    `start` (YYYY-MM-DD) sets the emulated clock's first day; the default is the emulator's.
    """
    url = f"http://{host}:{port}"
    if _emulator_running(url):
        if not quiet:
            print(f"emulators already running at {url}")
        return None
    command = [sys.executable, "-m", "emulators", "--host", host, "--port", str(port)]
    command += ["--seed", str(seed), *(["--start", start] if start else [])]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LifeboatError(
                f"the emulators could not start on {host}:{port} (is the port taken?); "
                "set emulator.port in lifeboat.yaml to a free port"
            )
        if _emulator_running(url):
            if not quiet:
                print(f"emulators started at {url}")
            return process
        time.sleep(0.1)
    process.kill()
    raise LifeboatError(f"the emulators did not answer on {url} within 20 s")
