"""The GA4 connector against the GA4 emulator over real HTTP, into real DuckDB files."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer
from lifeboat.errors import (
    ConfigError,
    LifeboatError,
    VendorBadResponse,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from pipelines.base import RetryPolicy, VendorContext
from pipelines.ga4 import source
from pipelines.runner import sync, warehouse_path
from pipelines.snapshot import read_manifest, sha256

# The token the emulators accept (emulators/demo.env); it must never show in an error.
TOKEN = demo_credentials(["ga4"])["ga4"]["access_token"]
DAYS = 60


def ga4(url: str, retries: RetryPolicy | None = None, **options: Any) -> VendorContext:
    return VendorContext(
        "ga4",
        f"{url}/ga4",
        {"access_token": TOKEN},
        options={"property_id": "123456789", **options},
        retries=retries or RetryPolicy(max_attempts=3, budget_seconds=5),
    )


def days(home: Path) -> dict[date, tuple[Any, ...]]:
    """The copy by day: metrics and the load that wrote them."""
    with duckdb.connect(str(warehouse_path(home, "ga4")), read_only=True) as con:
        rows = con.execute(
            "SELECT date, active_users, sessions, screen_page_views, conversions, total_revenue, "
            "_dlt_load_id FROM daily_metrics"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator({"ga4.daily_metrics": DAYS})


def test_full_sync_copies_every_day_page_by_page_and_snapshots_it(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)

    result = sync(ga4(server.url, page_size=25), home)

    assert result.tables["daily_metrics"].rows_held == DAYS
    assert result.tables["daily_metrics"].cursor == date(2025, 12, 31)
    assert control.requests("ga4") == 3  # 25 + 25 + 10 rows
    copy = days(home)
    assert min(copy) == date(2025, 11, 2) and max(copy) == date(2025, 12, 31)
    users, sessions, views, conversions, revenue, _ = copy[date(2025, 12, 1)]
    assert 0 < users < sessions < views
    assert isinstance(conversions, float) and isinstance(revenue, float)
    with duckdb.connect(str(warehouse_path(home, "ga4")), read_only=True) as con:
        kind = con.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'daily_metrics' AND column_name = 'date'"
        ).fetchone()[0]
        assert kind == "DATE"
        assert con.execute("SELECT DISTINCT currency_code FROM daily_metrics").fetchall() == [
            ("USD",)
        ]
    manifest = read_manifest(home / "snapshots" / "ga4")
    part = manifest["tables"]["daily_metrics"]["parts"][0]
    assert part["rows"] == DAYS
    assert sha256(home / "snapshots" / "ga4" / part["file"]) == part["sha256"]


def test_incremental_sync_rereads_the_days_still_being_processed(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    ctx = ga4(server.url)
    sync(ctx, home)
    before = days(home)
    control.reset_counters()

    control.advance(days=1)
    result = sync(ctx, home)

    after = days(home)
    # The cursor's day and the three before it are asked for again, plus the new day.
    assert control.served("ga4") == {"daily_metrics": 3 + 1 + 1}
    assert result.tables["daily_metrics"].rows_held == DAYS + 1
    assert result.tables["daily_metrics"].cursor == date(2026, 1, 1)
    moving = [date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)]
    for day in moving:
        assert after[day][0] > before[day][0]  # GA4 finished processing more of the day
    settled = [day for day in before if day < date(2025, 12, 28)]
    assert all(after[day] == before[day] for day in settled)  # same numbers, same load


def test_without_recent_days_only_the_cursor_day_and_new_days_are_asked_for(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    ctx = ga4(server.url, recent_days=0)
    sync(ctx, home)
    control.reset_counters()

    control.advance(days=3)
    sync(ctx, home)

    assert control.served("ga4") == {"daily_metrics": 1 + 3}
    assert len(days(home)) == DAYS + 3


@pytest.mark.parametrize(("scale", "requests"), [(DAYS, 1), (0, 1)])
def test_pagination_edges(make_emulator, home: Path, scale: int, requests: int) -> None:
    server = make_emulator({"ga4.daily_metrics": scale})
    control = EmulatorControl(server.url)

    result = sync(ga4(server.url, page_size=DAYS), home)

    held = result.tables.get("daily_metrics")
    assert (held.rows_held if held else 0) == scale
    assert control.requests("ga4") == requests


def test_rate_limits_are_ridden_out_honouring_retry_after(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    control.fault("ga4", "rate_limit", retry_after=0, count=2)

    result = sync(ga4(server.url), home)

    assert result.tables["daily_metrics"].rows_held == DAYS
    assert control.requests("ga4") == 3


def test_lockout_fails_named_and_leaves_the_copy_untouched(
    server: EmulatorServer, home: Path
) -> None:
    control = EmulatorControl(server.url)
    sync(ga4(server.url), home)
    before = days(home)
    control.advance(days=2)
    control.fault("ga4", "lockout")

    with pytest.raises(Exception) as failure:
        sync(ga4(server.url), home)

    error = _root(failure.value)
    assert isinstance(error, VendorLockout)
    assert "Viewer access" in str(error)
    assert TOKEN not in str(failure.value)
    assert days(home) == before


@pytest.mark.parametrize(
    ("mode", "options", "error", "words"),
    [
        ("lockout", {"status": 401}, VendorLockout, "access token"),
        ("rate_limit", {"retry_after": 0}, VendorRateLimited, "Exhausted property tokens"),
        ("outage", {}, VendorOutage, "unavailable"),
        ("malformed", {}, VendorBadResponse, "not valid JSON"),
    ],
)
def test_each_error_body_is_named_for_what_it_is(
    server: EmulatorServer,
    home: Path,
    mode: str,
    options: dict[str, Any],
    error: type[LifeboatError],
    words: str,
) -> None:
    EmulatorControl(server.url).fault("ga4", mode, **options)

    with pytest.raises(Exception) as failure:
        sync(ga4(server.url, retries=RetryPolicy(2, 5)), home)

    found = _root(failure.value)
    assert type(found) is error
    assert words in str(found)
    assert TOKEN not in str(failure.value)


def test_a_missing_property_id_is_a_config_error_naming_the_option(
    server: EmulatorServer, home: Path
) -> None:
    ctx = VendorContext("ga4", f"{server.url}/ga4", {"access_token": TOKEN})

    with pytest.raises(Exception) as failure:
        sync(ctx, home)

    error = _root(failure.value)
    assert isinstance(error, ConfigError)
    assert "vendors.ga4.options.property_id" in str(error)


def _root(exc: BaseException) -> BaseException:
    """dlt wraps resource errors; the named lifeboat error is underneath."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, LifeboatError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def test_the_source_builds_without_secrets_or_options_for_dagster_to_list_assets() -> None:
    built = source(VendorContext("ga4", "https://analyticsdata.googleapis.com"))

    assert list(built.resources) == ["daily_metrics"]


@pytest.mark.parametrize(("option", "value"), [("recent_days", "three"), ("page_size", "-1")])
def test_a_bad_option_is_a_config_error_naming_the_field(option: str, value: str) -> None:
    ctx = VendorContext("ga4", "https://analyticsdata.googleapis.com", options={option: value})

    with pytest.raises(ConfigError, match=re.escape(f"vendors.ga4.options.{option}")):
        source(ctx)


@pytest.mark.parametrize("recent_days", [3, 0])
def test_after_an_outage_the_days_google_was_still_processing_are_read_again(
    make_emulator, tmp_path: Path, recent_days: int
) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS})
    control = EmulatorControl(server.url)
    home = tmp_path / "copy"
    ctx = ga4(server.url, RetryPolicy(max_attempts=2, budget_seconds=1), recent_days=recent_days)
    sync(ctx, home)
    last_good = max(days(home))

    # GA4 is down for three days; the copy runs fail and change nothing.
    control.fault("ga4", "outage")
    for _ in range(3):
        control.advance(days=1)
        with pytest.raises(Exception) as failure:
            sync(ctx, home)
        assert isinstance(_root(failure.value), VendorOutage)
    control.clear_faults("ga4")
    sync(ctx, home)

    # What GA4 reports now for every day, copied afresh for comparison.
    fresh = tmp_path / "fresh"
    sync(ga4(server.url), fresh)
    copy, truth = days(home), days(fresh)
    assert set(copy) == set(truth) and max(copy) > last_good
    stale = [day for day in truth if copy[day][:5] != truth[day][:5]]
    if recent_days:
        assert stale == []  # the days still being processed at the outage were read again
    else:
        assert last_good in stale  # without re-reading, the last good day keeps early numbers
