"""The Partitions tab of a fully copied daily dataset, as a person sees it in the Dagster UI."""

from __future__ import annotations

import os
import re
import shutil
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
from tests.browser.test_asset_graph import serve_webserver
from tests.inventories import STRIPE_KEY_ENV, stripe_only
from tests.keys import STRIPE_KEY


@pytest.fixture
def copied(emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A data home whose Stripe copy ran once through Dagster, with the history recorded as
    the daemon's sensor records it; the environment a webserver needs to show it."""
    config = stripe_only(tmp_path, emulator.url)
    home = tmp_path / "home"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        STRIPE_KEY_ENV: STRIPE_KEY,
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
    with serve_webserver({**os.environ, **copied}, tmp_path / "webserver.log") as url:
        yield url


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
