"""The GA4 Data API emulator over real HTTP: runReport paging, processing days, errors, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer

ACCESS_TOKEN = demo_credentials(["ga4"])["ga4"]["access_token"]
TOKEN = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
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


def test_a_missing_and_a_wrong_token_are_told_apart_as_google_does(shared: EmulatorServer) -> None:
    missing = report(shared, headers={})
    wrong = report(shared, headers={"Authorization": "Bearer ya29.someone-elses"})
    in_query = requests.post(
        f"{shared.url}/ga4/v1beta/properties/1:runReport?access_token={ACCESS_TOKEN}",
        json={
            "dateRanges": [{"startDate": "today", "endDate": "today"}],
            "metrics": [{"name": "sessions"}],
        },
        timeout=10,
    )

    for response, reason in (
        (missing, "CREDENTIALS_MISSING"),
        (wrong, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    ):
        assert_google_error(response, 401, "UNAUTHENTICATED")
        assert response.json()["error"]["details"][0]["reason"] == reason
    assert "missing required authentication" in missing.json()["error"]["message"]
    assert "invalid authentication credentials" in wrong.json()["error"]["message"]
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert in_query.status_code == 200  # Google's access_token system parameter


def test_system_parameters_are_honoured_or_refused(shared: EmulatorServer) -> None:
    url = f"{shared.url}/ga4/v1beta/properties/1:runReport"
    body = {
        "dateRanges": [{"startDate": "7daysAgo", "endDate": "yesterday"}],
        "metrics": [{"name": "sessions"}],
    }

    def post(query: str) -> requests.Response:
        return requests.post(f"{url}?{query}", json=body, headers=TOKEN, timeout=10)

    masked = post("alt=json&prettyPrint=false&fields=rowCount,rows(metricValues)")
    assert masked.json() == {
        "rowCount": 1,
        "rows": [{"metricValues": masked.json()["rows"][0]["metricValues"]}],
    }
    assert_google_error(post("alt=proto"), 400, "INVALID_ARGUMENT")
    unknown = post("pageSize=5")
    assert_google_error(unknown, 400, "INVALID_ARGUMENT")
    assert 'Unknown name "pageSize"' in unknown.json()["error"]["message"]


def test_methods_the_emulator_does_not_serve_say_so(shared: EmulatorServer) -> None:
    pivot = requests.post(
        f"{shared.url}/ga4/v1beta/properties/1:runPivotReport", json={}, headers=TOKEN, timeout=10
    )
    wrong_verb = requests.get(
        f"{shared.url}/ga4/v1beta/properties/1:runReport", headers=TOKEN, timeout=10
    )

    assert_google_error(pivot, 501, "UNIMPLEMENTED")
    assert_google_error(wrong_verb, 404, "NOT_FOUND")


def quota_of(response: requests.Response) -> dict[str, dict[str, int]]:
    assert response.status_code == 200, response.text
    return response.json()["propertyQuota"]


def test_daily_tokens_run_out_and_come_back_at_midnight_pacific_time(make_emulator) -> None:
    # https://developers.google.com/analytics/devguides/reporting/data/v1/quotas
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.tokens_per_day": 3})
    control = EmulatorControl(server.url)

    spent = [quota_of(report(server, returnPropertyQuota=True)) for _ in range(3)]
    refused = report(server, returnPropertyQuota=True)
    # The clock starts at 2026-01-01T00:00Z, 16:00 the day before in California.
    control.advance(seconds=7 * 3600)
    still = report(server)
    control.advance(seconds=3600)
    again = report(server, returnPropertyQuota=True)

    assert [q["tokensPerDay"]["remaining"] for q in spent] == [2, 1, 0]
    assert spent[0]["tokensPerHour"] == {"consumed": 1, "remaining": 39_999}
    for response in (refused, still):
        assert_google_error(response, 429, "RESOURCE_EXHAUSTED")
        assert "Exhausted property tokens per day" in response.json()["error"]["message"]
    assert quota_of(again)["tokensPerDay"]["remaining"] == 2


def test_hourly_tokens_come_back_the_next_hour(make_emulator) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.tokens_per_hour": 1})

    assert report(server).status_code == 200
    refused = report(server)
    EmulatorControl(server.url).advance(seconds=3600)

    assert_google_error(refused, 429, "RESOURCE_EXHAUSTED")
    assert "tokens per hour" in refused.json()["error"]["message"]
    assert report(server).status_code == 200


def test_bigger_reports_cost_more_tokens(shared: EmulatorServer) -> None:
    small = quota_of(report(shared, limit=5, returnPropertyQuota=True))
    breakdown = quota_of(
        report(
            shared,
            dimensions=[{"name": "date"}, {"name": "pagePath"}, {"name": "deviceCategory"}],
            limit=5000,
            returnPropertyQuota=True,
        )
    )

    assert small["tokensPerDay"]["consumed"] == 1
    assert breakdown["tokensPerDay"]["consumed"] > 1


def test_no_request_returns_more_rows_than_the_cap(make_emulator) -> None:
    server = make_emulator({"ga4.daily_metrics": DAYS, "ga4.max_rows_per_request": 20})

    body = report(server, limit=250_000).json()

    assert len(body["rows"]) == 20
    assert body["rowCount"] == DAYS
