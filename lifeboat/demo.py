"""`lifeboat demo` and `lifeboat ui`: emulators, MySQL sandbox and Dagster, started for a person."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from lifeboat import names
from lifeboat.config import Inventory, home, inventory
from lifeboat.continuity.report import report_path
from lifeboat.instance import PROJECT_ROOT, dagster_home, load_demo_credentials, start_emulator
from lifeboat.paths import DataHome
from lifeboat.settings import CONFIG_ENV, HOME_ENV
from lifeboat.status import copy_status, format_table
from pipelines.registry import vendors
from replication import cli as replication_cli
from replication.settings import SANDBOX_TOPOLOGY_FILE

# `dagster dev` warns on every start that `dg dev` supersedes it; `dg` is another package
# (dagster-dg-cli) and needs a dg project, so lifeboat keeps `dagster dev` and silences that
# one warning in the one process it starts (a -W filter: dagster is not importable when
# Python reads it, hence FutureWarning, the class SupersessionWarning derives from).
DEV_SUPERSEDED = "ignore:Function `dev_command` is superseded:FutureWarning"
# How long `dagster dev` may take, after Ctrl-C, to stop the webserver and daemon it started.
UI_STOP_SECONDS = 90


def start_demo_emulators(inv: Inventory) -> subprocess.Popen[bytes] | None:
    """The emulators the demo and the UI copy from, with their clock at today (UTC).

    Their data then runs up to today: open work and renewals are current, not those of the
    emulators' fixed default start (which the tests keep).
    """
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    emulator = inv.emulator
    return start_emulator(emulator.host, emulator.port, emulator.seed, start=today)


def cmd_demo(args: argparse.Namespace) -> int:
    load_demo_credentials()
    if args.scenario == "outage":
        from automation.scenarios import run_outage

        run_outage(home() / "scenarios" / "outage")
        return 0
    inv = inventory().bind(vendors())
    emulator = start_demo_emulators(inv)
    try:
        import dagster as dg

        from assets.continuity import REPORT_JOB
        from automation.copies import today
        from automation.mysql import FAILOVER_CHECK_JOB
        from definitions import defs
        from replication.probe import probe
        from replication.sandbox import Sandbox

        if inv.mysql is None:
            print("starting the MySQL sandbox (a primary and two replicas)...")
            Sandbox(DataHome(home()).sandbox_dir, out=print).up()
            print(start_sandbox_connector())
        dagster_home(home())
        started = time.monotonic()
        quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
        with dg.DagsterInstance.get() as instance:
            copies = defs.resolve_job_def(names.ALL_COPIES_JOB).execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config=quiet,
                partition_key=today(),
            )
            drills = defs.resolve_job_def(names.RESTORE_DRILL_JOB).execute_in_process(
                instance=instance, raise_on_error=False, run_config=quiet
            )
            health = defs.resolve_job_def(FAILOVER_CHECK_JOB).execute_in_process(
                instance=instance, raise_on_error=False, run_config=quiet
            )
            report = defs.resolve_job_def(REPORT_JOB).execute_in_process(
                instance=instance, raise_on_error=False, run_config=quiet
            )
        print()
        print(format_table(copy_status(home(), inv)))
        print(
            f"\n{'copied' if copies.success else 'FAILED'} in "
            f"{time.monotonic() - started:.1f}s; data in {home()}"
        )
        checks = drills.get_asset_check_evaluations()
        passed = sum(1 for check in checks if check.passed)
        print(
            f"restore drill: {passed} of {len(checks)} datasets restore from their Parquet "
            "snapshots to the live copy's exact rows (daily job restore_drills)"
        )
        for check in checks:
            if not check.passed:
                print(f"  {'/'.join(check.asset_key.path)}: {check.description}")
        print()
        print(replication_cli.format_health(probe(replication_cli.resolve_topology())))
        failed = [r for r in (copies, drills, health, report) if not r.success]
        failed += [drills] if passed < len(checks) else []
        for result in failed:
            for event in result.all_events:
                if event.is_step_failure and event.step_failure_data:
                    print(f"  {event.step_key}: {event.step_failure_data.error.message.strip()}")
        print(f"\ncontinuity report (opens offline): {report_path(home())}")
        if failed:
            return 1
        print("see it in the Dagster UI: make ui; switch the MySQL primary: lifeboat switch")
        return 0
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=10)


def start_sandbox_connector() -> str:
    """The lifeboat connector in front of the sandbox, running in the background like it."""
    from replication.connector.control import start_background

    command = [str(Path(sys.executable).with_name("lifeboat")), "connector", "--sandbox"]
    return start_background(home(), command, DataHome(home()).root / "mysql" / "connector.log")


def cmd_ui(args: argparse.Namespace) -> int:
    load_demo_credentials()
    inv = inventory().bind(vendors())
    if inv.mysql is None and (DataHome(home()).sandbox_dir / SANDBOX_TOPOLOGY_FILE).is_file():
        print(start_sandbox_connector())
    emulator = start_demo_emulators(inv)
    instance_dir = dagster_home(home())
    # `dagster dev` runs in the instance's directory, where its dagster.yaml is (the project's
    # copy, see dagster_home): from the project root, it would say the project's dagster.yaml
    # "will not be used". The inventory and data directory go by absolute path for that.
    env = {
        **os.environ,
        "DAGSTER_HOME": str(instance_dir),
        CONFIG_ENV: str(inv.source_path),
        HOME_ENV: str(home()),
        # copied_history_sensor records a copy's past days (hundreds at once, once); the
        # automation of the continuity kit then reads when each was updated instead of
        # warning that there are more than 100 and taking the tick's time for all.
        "DAGSTER_MAX_PARTITIONS_FOR_DA_TIMESTAMP_FETCH": os.environ.get(
            "DAGSTER_MAX_PARTITIONS_FOR_DA_TIMESTAMP_FETCH", "100000"
        ),
    }
    command = [sys.executable, "-W", DEV_SUPERSEDED, "-m", "dagster", "dev"]
    command += ["-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(args.port)]
    # In a process group of its own, `dagster dev` is not sent the terminal's Ctrl-C with
    # everything it started: lifeboat asks it alone to stop, and it stops its webserver,
    # daemon and code servers in order. Sent to all at once, the code server stopped first
    # and the webserver started it again, to outlive the UI.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # Started in the background (`make ui &`, nohup): an ignored Ctrl-C is inherited by
        # `dagster dev`, which then could not be asked to stop. Let both hear it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    process = subprocess.Popen(command, cwd=instance_dir, env=env, process_group=0)
    handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return process.wait()
    except KeyboardInterrupt:
        return _stop_dagster_dev(process)
    finally:
        _stop_group(process.pid)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=10)


def _interrupt(signum: int, frame: object) -> None:
    """A terminal closed or a `kill`: stop the UI as Ctrl-C does."""
    raise KeyboardInterrupt


def _stop_dagster_dev(process: subprocess.Popen[bytes]) -> int:
    """Ask `dagster dev` to stop, as Ctrl-C does, and wait while it stops what it started.

    If it takes too long, or a second Ctrl-C comes, its whole process group is killed.
    """
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=UI_STOP_SECONDS)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return 0


def _stop_group(group: int) -> None:
    """Stop what `dagster dev` leaves behind in its group: a run in progress, a code server.

    Interrupted as Ctrl-C in a terminal interrupts them (such a run shows as failed, and the
    next one does its work again); killed if still there after UI_STOP_SECONDS.
    """
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + UI_STOP_SECONDS
        while _alive_in(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _alive_in(group):
            return


def _alive_in(group: int) -> list[int]:
    """The processes of a process group that still run (not the exited, unreaped ones)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command name (in parentheses): state, parent, process group.
            state, _, pgrp = stat.read_text().rsplit(")", 1)[-1].split()[:3]
        except (OSError, ValueError):
            continue
        if pgrp == str(group) and state != "Z":
            alive.append(int(stat.parent.name))
    return alive
