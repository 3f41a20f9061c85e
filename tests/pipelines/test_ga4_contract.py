"""The GA4 connector handles the Data API's documented limits, against the emulator over HTTP.

Quotas: https://developers.google.com/analytics/devguides/reporting/data/v1/quotas
Paging: https://developers.google.com/analytics/devguides/reporting/data/v1/basics#pagination
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests

from emulators.control import EmulatorControl
from lifeboat.errors import VendorRateLimited
from pipelines.ga4.quota import refresh_time
from pipelines.ga4.settings import METRICS
from pipelines.runner import sync
from tests.pipelines.test_ga4 import DAYS, TOKEN, _root, days, ga4

HOUR = 3600


def test_a_run_that_spends_the_last_daily_token_stops_before_a_refused_page(
    make_emulator, home: Path
) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.tokens_per_day": 3})
    control = EmulatorControl(server.url)
    sync(ga4(server.url, page_size=DAYS), home)  # one token of three
    before = days(home)
    control.reset_counters()

    with pytest.raises(Exception) as failure:
        # Eleven days in pages of two: the two tokens left last for two pages.
        sync(ga4(server.url, page_size=2, recent_days=10), home)

    error = _root(failure.value)
    assert isinstance(error, VendorRateLimited)
    assert "midnight Pacific Time" in str(error)
    # Google's Date says 2026-01-01 00:00 UTC: 16:00 in California, eight hours to go.
    assert error.retry_after == 8 * HOUR
    assert control.requests("ga4") == 2  # it never asked for the page GA4 would refuse
    assert days(home) == before
    assert TOKEN not in str(failure.value)


def test_a_run_on_a_spent_day_fails_at_once_and_the_next_day_completes(
    make_emulator, home: Path
) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.tokens_per_day": 1})
    control = EmulatorControl(server.url)
    sync(ga4(server.url), home)
    control.reset_counters()

    with pytest.raises(Exception) as failure:
        sync(ga4(server.url), home)
    error = _root(failure.value)
    waited = control.requests("ga4")
    # Past midnight in California the property has its tokens again.
    control.advance(days=1)
    result = sync(ga4(server.url), home)

    assert isinstance(error, VendorRateLimited) and error.status == 429
    assert "Exhausted property tokens per day" in str(error)
    assert "midnight Pacific Time" in str(error)
    assert waited == 1  # a day-long wait is not retried within the run
    assert result.tables["daily_metrics"].rows_held == DAYS + 1


def test_spent_hourly_tokens_say_the_copy_resumes_within_the_hour(
    make_emulator, home: Path
) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.tokens_per_hour": 1})

    with pytest.raises(Exception) as failure:
        sync(ga4(server.url, page_size=25), home)

    error = _root(failure.value)
    assert isinstance(error, VendorRateLimited)
    assert "hourly quota tokens are spent" in str(error)
    assert error.retry_after == HOUR  # the emulated clock stands at the top of an hour


def test_a_report_longer_than_the_row_cap_is_paged_to_its_end(make_emulator, home: Path) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.max_rows_per_request": 25})
    control = EmulatorControl(server.url)

    result = sync(ga4(server.url), home)  # asks for 250,000 rows, receives 25 a page

    assert result.tables["daily_metrics"].rows_held == DAYS
    assert control.requests("ga4") == 3
    assert min(days(home)) == date(2025, 11, 2)


def test_the_connector_asks_for_metrics_by_their_current_names(emulator) -> None:
    metadata = requests.get(
        f"{emulator.url}/ga4/v1beta/properties/123456789/metadata",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).json()

    current = {m["apiName"] for m in metadata["metrics"]}
    deprecated = {name for m in metadata["metrics"] for name in m.get("deprecatedApiNames", [])}
    assert set(METRICS) <= current
    assert not set(METRICS) & deprecated


@pytest.mark.parametrize(
    ("bucket", "now", "resumes"),
    [
        (
            "tokensPerDay",
            datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
            datetime(2026, 1, 1, 8, tzinfo=UTC),
        ),
        (
            "tokensPerDay",
            datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
            datetime(2026, 7, 2, 7, tzinfo=UTC),
        ),
        (
            "tokensPerHour",
            datetime(2026, 7, 1, 12, 40, tzinfo=UTC),
            datetime(2026, 7, 1, 13, tzinfo=UTC),
        ),
    ],
)
def test_spent_tokens_refresh_at_midnight_pacific_or_the_next_hour(
    bucket: str, now: datetime, resumes: datetime
) -> None:
    assert refresh_time(bucket, now) == resumes
