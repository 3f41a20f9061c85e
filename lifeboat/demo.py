"""`lifeboat demo` and `lifeboat ui`: emulators, MySQL sandbox and Dagster, started for a person."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from lifeboat import names
from lifeboat.config import home, inventory
from lifeboat.continuity.report import report_path
from lifeboat.instance import PROJECT_ROOT, dagster_home, load_demo_credentials, start_emulator
from lifeboat.paths import DataHome
from lifeboat.status import copy_status, format_table
from pipelines.registry import vendors
from replication import cli as replication_cli


def cmd_demo(args: argparse.Namespace) -> int:
    load_demo_credentials()
    if args.scenario == "outage":
        from automation.scenarios import run_outage

        run_outage(home() / "scenarios" / "outage")
        return 0
    inv = inventory().bind(vendors())
    emulator = start_emulator(inv.emulator.host, inv.emulator.port, inv.emulator.seed)
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


def cmd_ui(args: argparse.Namespace) -> int:
    load_demo_credentials()
    inv = inventory().bind(vendors())
    emulator = start_emulator(inv.emulator.host, inv.emulator.port, inv.emulator.seed)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home(home()))}
    try:
        return subprocess.call(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(args.port),
            ],
            cwd=PROJECT_ROOT,
            env=env,
        )
    except KeyboardInterrupt:
        return 0
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=10)
