"""`make demo SCENARIO=outage`: a lockout and an outage, replayed against the emulators.

The story runs in its own data directory with its own emulators, whose clock is set so
that the emulated days are the real last few days: the days Stripe is down are the very
partitions the recovery sensor backfills. Nothing of the regular demo's copy is touched.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from assets.outcomes import failure_text
from automation.copies import today
from emulators.control import EmulatorControl
from lifeboat import names
from lifeboat.alerts import LOG_FILE, alerts_dir
from lifeboat.config import load_inventory
from lifeboat.instance import PROJECT_ROOT, start_emulator
from lifeboat.messages import listed
from pipelines.registry import vendors
from pipelines.runner import cursors, make_pipeline, warehouse_path

DOWN_DAYS = 2
SENSORS = ("copy_failure_sensor", "copy_success_sensor", names.RECOVERY_SENSOR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _counts(home: Path, vendor: str) -> dict[str, int]:
    database = warehouse_path(home, vendor)
    with duckdb.connect(str(database), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%' ESCAPE '\\' "
                "AND table_name NOT LIKE '%\\_history' ESCAPE '\\' ORDER BY 1"
            ).fetchall()
        ]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}


def _loaded(result: dg.ExecuteInProcessResult) -> str:
    # A run over several days reports each day's partition: the rows are counted once.
    loaded: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        rows = materialization.metadata.get("rows_loaded")
        loaded[materialization.asset_key.path[-1]] = rows.value if rows else 0
    return ", ".join(f"{table} +{rows}" for table, rows in sorted(loaded.items())) or "nothing"


class Story:
    """The scenario's Dagster instance, definitions and sensors, ticked as the daemon would."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs = defs
        self.instance = instance
        self.cursors: dict[str, str | None] = {}

    def tick(self, name: str) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(
            instance=self.instance,
            definitions=self.defs,
            cursor=self.cursors.get(name),
            resources=self.defs.resources,
        )
        # resolve_sensor_def, not get_sensor_def (which warns on every call since dagster
        # 1.11): the sensor with its resources and its targets' resources bound.
        result = self.defs.resolve_sensor_def(name).evaluate_tick(context)
        self.cursors[name] = result.cursor
        return list(result.run_requests or [])

    def run(self, job: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
        # The story prints what a person needs; the failures' stack traces stay in the runs.
        quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, raise_on_error=False, run_config=quiet, **kwargs
        )
        for name in ("copy_failure_sensor", "copy_success_sensor"):
            self.tick(name)
        return result

    @staticmethod
    def failure(result: dg.ExecuteInProcessResult) -> str:
        """What the failed step told a person: its Failure's description, else its error."""
        for event in result.all_events:
            data = event.step_failure_data if event.is_step_failure else None
            if data is None:
                continue
            if data.user_failure_data is not None and data.user_failure_data.description:
                return data.user_failure_data.description.strip()
            return failure_text(event) or "the step failed without a message"
        return "no step failed"


def _held(counts: dict[str, int]) -> str:
    """'1,500 tickets and 300 users' for {'tickets': 1500, 'users': 300}."""
    return listed([f"{rows:,} {table}" for table, rows in sorted(counts.items())]) or "nothing"


class _Indented(logging.Handler):
    """lifeboat's own log lines (an outage's retries), told inside the story's step."""

    def __init__(self, out: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out(f"      {record.getMessage()}")


@contextmanager
def _logged_into(out: Callable[[str], None]) -> Iterator[None]:
    # Without a handler, Python prints them bare on stderr, out of the story's indentation.
    handler = _Indented(out)
    logger = logging.getLogger("lifeboat")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def untouched(before: dict[str, int], after: dict[str, int], title: str) -> str:
    """Whether a failed copy left the copy as it was, as a person reads it."""
    if before == after:
        return f"the {title} copy is untouched: {_held(after)}, as before"
    return f"the {title} copy changed: it holds {_held(after)}, it held {_held(before)}"


def run_outage(home: Path, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Lock Zendesk out, take Stripe down for two days, bring both back; tell the story."""
    from definitions import build_definitions

    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    now = datetime.now(UTC)
    first_day = (now - timedelta(days=DOWN_DAYS + 1)).strftime("%Y-%m-%d")
    port = _free_port()
    emulator = start_emulator("127.0.0.1", port, 42, start=first_day, quiet=True)
    url = f"http://127.0.0.1:{port}"
    control = EmulatorControl(url)
    config = home / "lifeboat.yaml"
    shipped = (PROJECT_ROOT / "lifeboat.yaml").read_text()
    config.write_text(shipped.replace("http://127.0.0.1:8765", url))
    inventory = load_inventory(config, vendors())
    inventory = inventory.model_copy(
        update={"vendors": {v: inventory.vendors[v] for v in ("stripe", "zendesk")}}
    )
    facts: dict[str, Any] = {}
    try:
        with dg.instance_for_test() as instance, _logged_into(out):
            story = Story(build_definitions(inventory, home), instance)
            for name in SENSORS:
                story.tick(name)  # run-status sensors start from now
            out(f"== The bad day, replayed against the emulators (data in {home}) ==\n")

            out(f"1. {first_day}: a normal copy of Stripe and Zendesk.")
            for vendor in ("stripe", "zendesk"):
                result = story.run(names.copy_job(vendor), partition_key=today(now))
                out(f"   {vendor}: {_loaded(result)}")
            cursor = cursors(make_pipeline("stripe", home))["charges"]

            out("\n2. Zendesk locks the account out (401).")
            before = _counts(home, "zendesk")
            control.fault("zendesk", "lockout")
            locked = story.run("copy_zendesk", partition_key=today(now))
            out(f"   copy_zendesk failed: {story.failure(locked)}")
            after = _counts(home, "zendesk")
            facts["zendesk_untouched"] = before == after
            out(f"   {untouched(before, after, 'Zendesk')}")

            out(f"\n3. Stripe goes down (503) for {DOWN_DAYS} days; those days' copies fail.")
            control.fault("stripe", "outage")
            down = []
            for offset in range(DOWN_DAYS, 0, -1):
                control.advance(days=1)
                day = today(now - timedelta(days=offset))
                down.append(day)
                failed = story.run("copy_stripe", partition_key=day)
                out(f"   {day}: copy_stripe {'failed' if not failed.success else 'succeeded'}")
            control.advance(days=1)
            facts["down_days"] = down

            out("\n4. Stripe answers again: vendor_recovery_sensor backfills the missed days.")
            control.clear_faults("stripe")
            requests = story.tick(names.RECOVERY_SENSOR)
            for request in requests:
                backfill = story.run(
                    request.job_name,
                    tags=request.tags,
                    asset_selection=list(request.asset_selection or []),
                )
                span = (
                    request.tags["dagster/asset_partition_range_start"],
                    request.tags["dagster/asset_partition_range_end"],
                )
                out(f"   one backfill run, {span[0]} to {span[1]}: {_loaded(backfill)}")
                facts["backfill_ok"] = backfill.success
            facts["backfills"] = len(requests)
            facts["cursor_kept"] = cursors(make_pipeline("stripe", home))["charges"] == cursor
            out(
                "   the incremental cursor did not move"
                if facts["cursor_kept"]
                else "   the incremental cursor moved, which a backfill must never do"
            )
            caught_up = story.run("copy_stripe", partition_key=today(now))
            out(f"   the regular copy then catches up from it: {_loaded(caught_up)}")

            out("\n5. Zendesk's access is restored; the next copy succeeds.")
            control.clear_faults("zendesk")
            back = story.run("copy_zendesk", partition_key=today(now))
            out(f"   copy_zendesk: {'succeeded' if back.success else 'failed'}: {_loaded(back)}")

            log = alerts_dir(home) / LOG_FILE
            alerts = [json.loads(line) for line in log.read_text().splitlines()]
            facts["alerts"] = [(a["kind"], a["vendor"]) for a in alerts]
            out(f"\nAlerts a person received ({log}):")
            for alert in alerts:
                first_line = alert["message"].splitlines()[0]
                out(f"   {alert['time']}  {alert['vendor']:8} {alert['kind']:12} {first_line}")
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=10)
    return facts
