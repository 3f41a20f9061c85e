"""Where Dagster keeps its state (under the data directory) and the demo's credentials."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifeboat.errors import LifeboatError
from lifeboat.paths import DataHome

if TYPE_CHECKING:
    from dagster import DagsterInstance

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


# How long a look at the emulators' port waits: a local server answers in milliseconds.
PROBE_SECONDS = 3.0
# What to do when the emulators' port is held, said in every refusal.
FREE_PORT_STEP = (
    "or set emulator.port in lifeboat.yaml to a free port and the vendors' base_url to the "
    "same port"
)


def emulator_identity(url: str) -> dict[str, Any] | None:
    """Who holds the emulators' address `url`: None when nothing answers there.

    lifeboat's emulators say who they are (service, checkout, pid, seed, start_day); older
    ones, which cannot say, come back as {"service": SERVICE}; anything else as {}.
    """
    from emulators.control import EmulatorControl
    from emulators.settings import SERVICE

    control = EmulatorControl(url, timeout=PROBE_SECONDS)
    try:
        identity = control.identity()
    except urllib.error.HTTPError:
        identity = None  # it speaks HTTP: ask the question older emulators can answer
    except urllib.error.URLError as exc:
        # Refused: nothing listens, the port is free (a host that does not resolve is left
        # to the start to report); anything else did listen, and was not the emulators.
        return None if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror) else {}
    except (OSError, ValueError, http.client.HTTPException):
        return {}  # it answered, but not as lifeboat's emulators do
    if isinstance(identity, dict) and identity.get("service") == SERVICE:
        return identity
    try:
        state = control.state()
    except (OSError, ValueError, http.client.HTTPException):
        return {}
    older = isinstance(state, dict) and "seed" in state and "datasets" in state
    return {"service": SERVICE} if older else {}


def _reusable(identity: dict[str, Any], seed: int, start: str | None) -> bool:
    """Emulators started from this checkout with this seed (and clock start, if one is asked)."""
    return (
        identity.get("checkout") == str(PROJECT_ROOT)
        and identity.get("seed") == seed
        and (start is None or identity.get("start_day") == start)
    )


def port_taken(where: str, identity: dict[str, Any], seed: int, start: str | None) -> str:
    """One sentence: what holds the emulators' port, and what to do about it."""
    if not identity:
        return (
            f"{where} is held by something that is not lifeboat's emulators; stop it, "
            f"{FREE_PORT_STEP}"
        )
    pid = identity.get("pid")
    if pid is None:
        return (
            f"{where} is held by lifeboat's emulators of an older version, which cannot say "
            f"which checkout they run from; stop them, {FREE_PORT_STEP}"
        )
    if identity.get("checkout") != str(PROJECT_ROOT):
        who = f"lifeboat's emulators from another checkout ({identity.get('checkout')}, pid {pid})"
    elif identity.get("seed") != seed:
        who = f"this checkout's emulators with seed {identity.get('seed')}, not {seed} (pid {pid})"
    else:
        who = (
            f"this checkout's emulators with a clock that started on "
            f"{identity.get('start_day')}, not {start} (pid {pid})"
        )
    return f"{where} is held by {who}; stop them (kill {pid}), {FREE_PORT_STEP}"


def start_emulator(
    host: str, port: int, seed: int, start: str | None = None, quiet: bool = False
) -> subprocess.Popen[bytes] | None:
    """Start the emulators in a child process, or reuse this checkout's on that port.

    `start` (YYYY-MM-DD) sets the emulated clock's first day; the default is the emulator's.
    Emulators already on the port are reused only if they run from this checkout with the
    same seed (and clock start); anything else on the port is refused, saying what it is.
    Returns the child process, or None when running emulators are reused.
    """
    url = f"http://{host}:{port}"
    holder = emulator_identity(url)
    if holder is not None:
        if not _reusable(holder, seed, start):
            raise LifeboatError(port_taken(f"{host}:{port}", holder, seed, start))
        if not quiet:
            print(f"emulators already running at {url} (pid {holder['pid']}), reused")
        return None
    command = [sys.executable, "-m", "emulators", "--host", host, "--port", str(port)]
    command += ["--seed", str(seed), *(["--start", start] if start else [])]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LifeboatError(
                f"the emulators could not start on {host}:{port}; stop what holds the port, "
                f"{FREE_PORT_STEP}"
            )
        holder = emulator_identity(url)
        if holder and holder.get("pid") == process.pid:
            if not quiet:
                clock = f", their clock starting {start}" if start else ""
                print(f"emulators started at {url}{clock}")
            return process
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise LifeboatError(f"the emulators did not answer on {url} within 20 s")


# Tags a copy step puts on its run: which process runs it, on which machine, started when
# (a pid is reused; its start time tells a new process from the one that was tagged).
RUN_PID_TAG = "lifeboat/pid"
RUN_HOST_TAG = "lifeboat/host"
RUN_PROCESS_START_TAG = "lifeboat/process_start"


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def run_process_tags(running: bool = True) -> dict[str, str]:
    """Tags saying which process runs a copy step now (`running=False`: none any more).

    Set when a copy starts and cleared when it ends, however it ends; a run tagged with a
    process that is gone was killed in the middle of a copy.
    """
    pid = os.getpid() if running else None
    return {
        RUN_PID_TAG: str(pid or ""),
        RUN_HOST_TAG: socket.gethostname(),
        RUN_PROCESS_START_TAG: (_process_start(pid) or "") if pid else "",
    }


def release_stopped_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the runs of this machine whose process is gone, and free their slots.

    A run killed with SIGKILL (or by a power cut) never reports its end: Dagster counts it
    as running, and the pool slot it held (one per vendor) stays taken, so every later
    copy of that vendor waits for ever. The daemon's run monitoring catches this under
    `dagster dev`; runs executed in process (`lifeboat demo`, scripts) have no daemon, so
    the copies call this before they claim a slot, and so does `lifeboat doctor`. Returns
    the runs it marked failed.
    """
    import dagster as dg

    host = socket.gethostname()
    stopped = []
    running = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    )
    for record in running:
        run = record.dagster_run
        pid, started = run.tags.get(RUN_PID_TAG), run.tags.get(RUN_PROCESS_START_TAG)
        if not pid or run.tags.get(RUN_HOST_TAG) != host:
            continue  # not tagged yet, or run elsewhere: its own machine knows
        if started and _process_start(int(pid)) == started:
            continue  # alive
        instance.report_run_failed(
            run,
            message=(
                f"the process running it ({pid}) stopped without a word (killed or crashed); "
                "lifeboat marked the run failed and freed its pool slot"
            ),
        )
        stopped.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
    return stopped
