"""A backfill of missed days launched through the webserver's GraphQL API, as the UI does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.server import EmulatorServer
from lifeboat.instance import PROJECT_ROOT
from pipelines.base import VendorContext
from pipelines.runner import cursors, make_pipeline, sync, warehouse_path
from tests.keys import STRIPE_KEY

DAGSTER = Path(sys.executable).parent / "dagster"
KEY_ENV = "LIFEBOAT_TEST_STRIPE_KEY"
KEY = STRIPE_KEY
LOCATION = "lifeboat"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # the repository a Definitions object becomes
DAYS = ["2026-01-02", "2026-01-03"]
WINDOW_START = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp())
WINDOW_END = int(datetime(2026, 1, 4, tzinfo=UTC).timestamp())
DAILY = ("charges", "invoices")
ALL_TABLES = ("customers", "charges", "invoices", "subscriptions")
# Hang guards, not timing assertions: loading the code location imports Dagster, dlt and
# every connector, and the daemon's backfill loop only ticks every few tens of seconds.
STARTUP_LIMIT = 240.0
BACKFILL_LIMIT = 240.0
IDLE_LIMIT = 120.0
IN_PROGRESS = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
SUCCEEDED = {"COMPLETED", "COMPLETED_SUCCESS"}
FAILED = {"FAILED", "COMPLETED_FAILED", "CANCELED"}

pytestmark = pytest.mark.skipif(
    not DAGSTER.exists(), reason=f"{DAGSTER} is missing: install the project with `make setup`"
)

SCHEDULE_STATE = """
query ScheduleState($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { scheduleState { id status } }
    ... on Error { message }
  }
}
"""
STOP_SCHEDULE = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on Error { message }
  }
}
"""
RUNS_IN_PROGRESS = """
query RunsInProgress($statuses: [RunStatus!]) {
  runsOrError(filter: {statuses: $statuses}) {
    __typename
    ... on Runs { results { runId jobName status } }
    ... on Error { message }
  }
}
"""
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      runs { runId status tags { key value } }
    }
    ... on Error { message }
  }
}
"""
RUN_FAILURES = """
query RunFailures($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on ExecutionStepFailureEvent { error { message } }
      }
    }
    ... on Error { message }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a query to /graphql as the UI does; GraphQL-level errors fail the test."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop `dagster dev` and everything it started: code servers, daemons, run workers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    # Children outlive a parent that stopped first: whatever is left of the group goes too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def dagster_dev(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`dagster dev` (webserver and daemon) on a free port; stopped even when the test fails."""
    port = str(free_port())
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", port],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so the whole tree can be stopped by one id.
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + STARTUP_LIMIT
            while not answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dagster dev did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            stop_group(process)


def stop_schedule(url: str, name: str) -> None:
    """Switch the vendor's schedule off as a person would: its copies would move the cursor."""
    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": REPOSITORY,
        "scheduleName": name,
    }
    found = graphql(url, SCHEDULE_STATE, {"selector": selector})["scheduleOrError"]
    assert found["__typename"] == "Schedule", found
    stopped = graphql(url, STOP_SCHEDULE, {"id": found["scheduleState"]["id"]})
    result = stopped["stopRunningSchedule"]
    assert result["__typename"] == "ScheduleStateResult", result
    assert result["scheduleState"]["status"] == "STOPPED"


def wait_until_idle(url: str) -> None:
    """Let a run that started before the schedule was stopped finish before reading state."""
    deadline = time.monotonic() + IDLE_LIMIT
    while True:
        runs = graphql(url, RUNS_IN_PROGRESS, {"statuses": IN_PROGRESS})["runsOrError"]
        assert runs["__typename"] == "Runs", runs
        if not runs["results"]:
            return
        assert time.monotonic() < deadline, f"runs still in progress: {runs['results']}"
        time.sleep(1)


def launch_backfill(url: str) -> str:
    """The mutation the asset page's "Materialize selected" dialog sends for chosen days."""
    params = {
        "assetSelection": [{"path": ["stripe", table]} for table in DAILY],
        "partitionNames": DAYS,
        "fromFailure": False,
        "tags": [],
    }
    launched = graphql(url, LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def run_failures(url: str, run_id: str) -> list[str]:
    logs = graphql(url, RUN_FAILURES, {"runId": run_id})["logsForRun"]
    messages = []
    for event in logs.get("events", []):
        if event["__typename"].endswith("FailureEvent"):
            error = (event.get("error") or {}).get("message")
            messages.append(error or event.get("message") or event["__typename"])
    return messages


def wait_for_backfill(url: str, backfill_id: str) -> dict[str, Any]:
    """Poll the backfill as the UI's backfill page does, until it ends; a failure says why."""
    deadline = time.monotonic() + BACKFILL_LIMIT
    while True:
        backfill = graphql(url, BACKFILL, {"backfillId": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in SUCCEEDED:
            return backfill
        if backfill["status"] in FAILED:
            reasons = [(backfill.get("error") or {}).get("message") or ""]
            for run in backfill["runs"]:
                reasons += run_failures(url, run["runId"])
            pytest.fail(f"backfill {backfill['status']}: " + "\n".join(filter(None, reasons)))
        if time.monotonic() > deadline:
            pytest.fail(f"backfill still {backfill['status']} after {BACKFILL_LIMIT:.0f}s")
        time.sleep(2)


def changed_in_window(emulator: EmulatorServer, table: str) -> set[str]:
    """Ids of what Stripe lists as created or changed in the window: what a backfill must load."""
    app = emulator.emulator.apps["stripe"]
    dataset = app.datasets[table]
    created = range(
        dataset.first_index_created_at_or_after(WINDOW_START), dataset.count_at(WINDOW_END - 1)
    )
    listed = {index for index in created if not dataset.is_deleted(index)}
    changed = {m.index for m in dataset.log if WINDOW_START <= m.time < WINDOW_END}
    return {app.builders[table](index)["id"] for index in listed | changed}


def newest_loads(home: Path) -> dict[str, float]:
    """The latest load id of each Stripe table: rows written later came from the backfill."""
    newest = "SELECT max(CAST(_dlt_load_id AS DOUBLE)) FROM {}"
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return {table: con.execute(newest.format(table)).fetchone()[0] for table in ALL_TABLES}


def loaded_after(home: Path, table: str, load: float) -> dict[str, int]:
    """Id -> change time (epoch seconds) of the rows a load later than `load` wrote."""
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        rows = con.execute(
            f"SELECT id, epoch(_changed_at) FROM {table} WHERE CAST(_dlt_load_id AS DOUBLE) > ?",
            [load],
        ).fetchall()
    return {row_id: int(changed_at) for row_id, changed_at in rows}


def test_backfill_launched_through_graphql_loads_the_missed_days_and_keeps_the_cursor(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "lifeboat.yaml"
    config.write_text(
        "vendors:\n"
        "  stripe:\n"
        f"    base_url: {emulator.url}/stripe\n"
        f"    credentials: {{api_key: {KEY_ENV}}}\n"
        "    rpo: 1h\n"
        # No outage here: only the backfill this test launches may load anything.
        "backfill_after_outage: false\n"
    )
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **os.environ,
        "LIFEBOAT_CONFIG": str(config),
        "LIFEBOAT_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        KEY_ENV: KEY,
    }

    # The regular copy, as the scheduled run makes it: everything up to the emulator's now.
    sync(VendorContext("stripe", f"{emulator.url}/stripe", credentials={"api_key": KEY}), home)

    with dagster_dev(env, tmp_path / "dagster-dev.log") as url:
        stop_schedule(url, "stripe_every_rpo")
        wait_until_idle(url)
        cursor = cursors(make_pipeline("stripe", home))
        assert all(cursor.get(table) for table in DAILY), cursor
        before = newest_loads(home)

        # Stripe moves on three days; 2026-01-02 and 2026-01-03 are the days to catch up.
        EmulatorControl(emulator.url).advance(days=3, changes={"stripe.charges": {"updated": 30}})
        backfill = wait_for_backfill(url, launch_backfill(url))

    runs = backfill["runs"]
    # Single-run backfill policy: one run over the whole range, not one per day.
    assert len(runs) == 1, runs
    assert runs[0]["status"] == "SUCCESS", runs
    tags = {tag["key"]: tag["value"] for tag in runs[0]["tags"]}
    assert tags["dagster/asset_partition_range_start"] == DAYS[0]
    assert tags["dagster/asset_partition_range_end"] == DAYS[-1]

    after = newest_loads(home)
    for table in DAILY:
        expected = changed_in_window(emulator, table)
        assert expected, f"the emulator changed no {table} in the window: nothing to prove"
        loaded = loaded_after(home, table, before[table])
        # Exactly the window's records: none missing, none from outside it.
        assert set(loaded) == expected, table
        outside = {i: t for i, t in loaded.items() if not WINDOW_START <= t < WINDOW_END}
        assert not outside, f"{table}: the backfill loaded changes outside its days: {outside}"
    for table in set(ALL_TABLES) - set(DAILY):
        assert after[table] == before[table], f"the backfill wrote to {table}"

    # The regular copy goes on from where it was, not from the end of the backfilled days.
    assert cursors(make_pipeline("stripe", home)) == cursor

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with dg.DagsterInstance.get() as instance:
        for table in DAILY:
            materialized = instance.get_materialized_partitions(dg.AssetKey(["stripe", table]))
            assert set(DAYS) <= materialized, table
