"""The Partitions tab of a fully copied daily dataset, as a person sees it in the Dagster UI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from automation.copies import today
from definitions import build_definitions
from lifeboat.config import load_inventory
from lifeboat.instance import PROJECT_ROOT
from lifeboat.names import HISTORY_SENSOR
from pipelines.registry import vendors
from tests.browser.test_asset_graph import STARTUP_LIMIT, WORKSPACE, answers, free_port
from tests.keys import STRIPE_KEY

KEY_ENV = "LIFEBOAT_TEST_STRIPE_KEY"


@pytest.fixture
def copied(emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A data home whose Stripe copy ran once through Dagster, with the history recorded as
    the daemon's sensor records it; the environment a webserver needs to show it."""
    config = tmp_path / "lifeboat.yaml"
    config.write_text(
        "vendors:\n"
        "  stripe:\n"
        f"    base_url: {emulator.url}/stripe\n"
        f"    credentials: {{api_key: {KEY_ENV}}}\n"
    )
    home = tmp_path / "home"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        KEY_ENV: STRIPE_KEY,
        "LIFEBOAT_CONFIG": str(config),
        "LIFEBOAT_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    inventory = load_inventory(config, vendors())
    with dg.DagsterInstance.get() as instance:
        job = build_definitions(inventory, home).resolve_job_def("copy_stripe")
        assert job.execute_in_process(partition_key=today(), instance=instance).success
        defs = build_definitions(inventory, home)  # as the webserver will load it
        repository = defs.get_repository_def()
        context = dg.build_sensor_context(instance=instance, repository_def=repository)
        result = repository.get_sensor_def(HISTORY_SENSOR).evaluate_tick(context)
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
    return env


@pytest.fixture
def webserver(copied: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "webserver.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(WORKSPACE), "-p", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **copied},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while not answers(f"{url}/server_info"):
            if server.poll() is not None or time.monotonic() > deadline:
                output = (tmp_path / "webserver.log").read_text()[-2000:]
                pytest.fail(f"dagster-webserver did not start:\n{output}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_a_fully_copied_dataset_shows_no_missing_day(
    browser, webserver: str, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{webserver}/assets/stripe/charges?view=partitions")
    skip = page.get_by_role("button", name="Skip")
    page.wait_for_selector("text=Materialized", timeout=120_000)
    if skip.count():  # Dagster's newsletter prompt on a fresh instance
        skip.click()
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = page.inner_text("body")
        if re.search(r"Materialized\s*\(?[\d,]+", text):
            break
        time.sleep(0.5)
    page.screenshot(path=str(artifacts / "partitions-fully-copied.png"))
    materialized = re.search(r"Materialized\s*\(?([\d,]+)", text)
    missing = re.search(r"Missing\s*\(?([\d,]+)", text)
    assert materialized, text[:2000]
    assert int(materialized.group(1).replace(",", "")) > 700, text[:2000]
    assert missing and missing.group(1) == "0", text[:2000]
    page.close()
