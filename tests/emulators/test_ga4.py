"""The GA4 Data API emulator over real HTTP: runReport paging, processing days, errors, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer

TOKEN = {"Authorization": "Bearer ya29.test-token"}
DAYS = 60
METRICS = ["activeUsers", "sessions", "screenPageViews", "conversions", "totalRevenue"]


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorServer]:
    """One emulator for the tests that only read (each server costs half a second to stop)."""
    server = EmulatorServer(Emulator(seed=42, scale={"ga4.daily_metrics": DAYS})).start()
    yield server
    server.stop()


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator({"ga4.daily_metrics": DAYS})


def report(
    server: EmulatorServer,
    headers: dict[str, str] | None = None,
    property_id: str = "123456",
    **fields: Any,
) -> requests.Response:
    body: dict[str, Any] = {
        "dateRanges": [{"startDate": "2015-08-14", "endDate": "today"}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": name} for name in METRICS],
        "orderBys": [{"dimension": {"dimensionName": "date"}, "desc": False}],
        **fields,
    }
    return requests.post(
        f"{server.url}/ga4/v1beta/properties/{property_id}:runReport",
        json=body,
        headers=TOKEN if headers is None else headers,
        timeout=10,
    )


def all_rows(server: EmulatorServer, limit: int, **fields: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        response = report(server, limit=limit, offset=len(rows), **fields)
        assert response.status_code == 200, response.text
        page = response.json().get("rows", [])
        rows.extend(page)
        if len(rows) >= response.json().get("rowCount", 0):
            return rows


def by_date(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        row["dimensionValues"][0]["value"]: [v["value"] for v in row["metricValues"]]
        for row in rows
    }


def assert_google_error(response: requests.Response, status: int, google_status: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert error["status"] == google_status
    assert error["message"]


def test_limit_and_offset_page_through_every_day_once_in_date_order(
    shared: EmulatorServer,
) -> None:
    first = report(shared, limit=25).json()
    rows = all_rows(shared, limit=25)

    dates = [row["dimensionValues"][0]["value"] for row in rows]
    assert first["rowCount"] == DAYS
    assert len(first["rows"]) == 25
    assert len(dates) == DAYS == len(set(dates))
    assert dates == sorted(dates)
    assert dates[-1] == "20251231"  # today (the clock's first instant) has no data yet
    assert [h["name"] for h in first["metricHeaders"]] == METRICS
    assert first["metricHeaders"][-1]["type"] == "TYPE_CURRENCY"
    assert first["metadata"]["currencyCode"] == "USD"
    assert all(float(value) >= 0 for values in by_date(rows).values() for value in values)


def test_order_bys_sort_by_date_descending_or_by_a_metric(shared: EmulatorServer) -> None:
    newest_first = report(shared, orderBys=[{"dimension": {"dimensionName": "date"}, "desc": True}])
    by_users = report(shared, orderBys=[{"metric": {"metricName": "activeUsers"}, "desc": True}])
    unknown = report(shared, orderBys=[{"metric": {"metricName": "newUsers"}}])

    dates = [row["dimensionValues"][0]["value"] for row in newest_first.json()["rows"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == DAYS
    users = [int(row["metricValues"][0]["value"]) for row in by_users.json()["rows"]]
    assert users == sorted(users, reverse=True) and len(users) == DAYS
    assert_google_error(unknown, 400, "INVALID_ARGUMENT")


def test_limits_above_the_maximum_are_capped_and_non_positive_ones_refused(
    shared: EmulatorServer,
) -> None:
    capped = report(shared, limit=1_000_000)

    assert capped.status_code == 200
    assert len(capped.json()["rows"]) == DAYS
    assert_google_error(report(shared, limit=0), 400, "INVALID_ARGUMENT")
    assert_google_error(report(shared, limit=-5), 400, "INVALID_ARGUMENT")
    assert_google_error(report(shared, offset=-1), 400, "INVALID_ARGUMENT")


def test_bad_requests_get_googles_400_body(shared: EmulatorServer) -> None:
    unknown_metric = report(shared, metrics=[{"name": "happiness"}])
    bad_date = report(shared, dateRanges=[{"startDate": "last week", "endDate": "today"}])
    too_early = report(shared, dateRanges=[{"startDate": "2010-01-01", "endDate": "today"}])
    backwards = report(shared, dateRanges=[{"startDate": "today", "endDate": "7daysAgo"}])
    no_range = report(shared, dateRanges=[])
    bad_property = report(shared, property_id="my-site")
    not_json = requests.post(
        f"{shared.url}/ga4/v1beta/properties/1:runReport", data=b"{", headers=TOKEN, timeout=10
    )

    for response in (
        unknown_metric,
        bad_date,
        too_early,
        backwards,
        no_range,
        bad_property,
        not_json,
    ):
        assert_google_error(response, 400, "INVALID_ARGUMENT")
    assert "happiness" in unknown_metric.json()["error"]["message"]


def test_recent_days_change_as_the_clock_advances_and_older_days_are_final(
    server: EmulatorServer,
) -> None:
    before = by_date(all_rows(server, limit=100))

    EmulatorControl(server.url).advance(days=1)
    after = by_date(all_rows(server, limit=100))

    dates = sorted(before)
    assert sorted(after) == [*dates, "20260101"]
    assert all(after[date] == before[date] for date in dates[:-3])
    # The last three days were still being processed: their numbers grew.
    for date in dates[-3:]:
        assert int(after[date][0]) > int(before[date][0])


def test_an_empty_property_answers_without_rows_or_row_count(make_emulator) -> None:
    server = make_emulator({"ga4.daily_metrics": 0})

    body = report(server).json()

    assert "rows" not in body
    assert "rowCount" not in body
    assert body["kind"] == "analyticsData#runReport"


def test_missing_credentials_get_googles_401(shared: EmulatorServer) -> None:
    assert_google_error(report(shared, headers={}), 401, "UNAUTHENTICATED")


def test_each_fault_renders_in_googles_format(server: EmulatorServer) -> None:
    ctl = EmulatorControl(server.url)

    ctl.fault("ga4", "lockout")
    assert_google_error(report(server), 403, "PERMISSION_DENIED")
    ctl.fault("ga4", "lockout", status=401)
    assert_google_error(report(server), 401, "UNAUTHENTICATED")
    ctl.fault("ga4", "rate_limit", retry_after=3)
    limited = report(server)
    assert_google_error(limited, 429, "RESOURCE_EXHAUSTED")
    assert limited.headers["Retry-After"] == "3"
    ctl.fault("ga4", "outage")
    assert_google_error(report(server), 503, "UNAVAILABLE")
    ctl.fault("ga4", "malformed")
    with pytest.raises(requests.JSONDecodeError):
        report(server).json()
    ctl.fault("ga4", "empty")
    assert "rows" not in report(server).json()
    ctl.fault("ga4", "partial", share=0.5)
    assert 10 < report(server).json()["rowCount"] < DAYS - 10
    ctl.clear_faults("ga4")
    assert report(server).json()["rowCount"] == DAYS
