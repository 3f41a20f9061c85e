"""Google's own client (google-api-python-client) against the GA4 emulator over HTTP.

The client builds every request from the analyticsdata v1beta discovery document it ships:
what it can do against the emulator, it can do against the Data API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer

TOKEN = demo_credentials(["ga4"])["ga4"]["access_token"]
DAYS = 90
PROPERTY = "properties/123456789"
METRICS = ["activeUsers", "sessions", "screenPageViews", "keyEvents", "totalRevenue"]


def analytics(server: EmulatorServer, token: str = TOKEN, refresh: bool = False) -> Any:
    """The official client, its endpoint moved to the emulator.

    The discovery document's rootUrl is https://analyticsdata.googleapis.com/ with an empty
    servicePath and each method's path starts with v1beta/, so api_endpoint replaces the host.
    """
    # A bare access token has nothing to refresh with: by default the client tries (and
    # fails) on a 401; without refresh the API's own answer reaches the caller.
    codes = google_auth_httplib2.transport.DEFAULT_REFRESH_STATUS_CODES if refresh else ()
    http = google_auth_httplib2.AuthorizedHttp(
        Credentials(token), http=httplib2.Http(timeout=10), refresh_status_codes=codes
    )
    return build(
        "analyticsdata",
        "v1beta",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": f"{server.url}/ga4"},
    )


def every_row(api: Any, body: dict[str, Any], limit: int) -> Iterator[dict[str, Any]]:
    """A report followed to its end with offset and limit, the Data API's paging."""
    offset = 0
    while True:
        page = (
            api.properties()
            .runReport(property=PROPERTY, body={**body, "limit": limit, "offset": offset})
            .execute()
        )
        rows = page.get("rows", [])
        yield from rows
        offset += len(rows)
        if not rows or offset >= page.get("rowCount", 0):
            return


def by_date(start: str, end: str = "today", **extra: Any) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": start, "endDate": end}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": m} for m in METRICS],
        "orderBys": [{"dimension": {"dimensionName": "date"}}],
        **extra,
    }


def dates(rows: list[dict[str, Any]]) -> list[str]:
    return [row["dimensionValues"][0]["value"] for row in rows]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    running = EmulatorServer(Emulator(seed=11, scale={"ga4.daily_metrics": DAYS})).start()
    yield running
    running.stop()


def test_every_day_pages_to_the_end_with_offset_and_limit(server: EmulatorServer) -> None:
    rows = list(every_row(analytics(server), by_date("2015-08-14"), limit=7))

    assert len(rows) == DAYS
    assert dates(rows) == sorted(set(dates(rows)))
    assert dates(rows)[-1] == "20251231"
    assert all(len(row["metricValues"]) == len(METRICS) for row in rows)


def test_the_date_range_the_connector_resumes_from_returns_only_those_days(
    server: EmulatorServer,
) -> None:
    recent = list(every_row(analytics(server), by_date("2025-12-20", "2025-12-31"), limit=5))
    relative = list(every_row(analytics(server), by_date("5daysAgo", "yesterday"), limit=2))

    assert dates(recent) == [f"202512{day}" for day in range(20, 32)]
    assert dates(relative) == [f"202512{day}" for day in range(27, 32)]


def test_a_dimension_filter_keeps_only_the_matching_countries(server: EmulatorServer) -> None:
    api = analytics(server)
    body = {
        "dateRanges": [{"startDate": "2025-12-01", "endDate": "2025-12-31"}],
        "dimensions": [{"name": "date"}, {"name": "country"}],
        "metrics": [{"name": "sessions"}],
    }
    chosen = {"inListFilter": {"values": ["United States", "Germany"]}}
    europe = {"stringFilter": {"matchType": "EXACT", "value": "europe"}}

    in_list = {"filter": {"fieldName": "country", **chosen}}
    both = list(every_row(api, {**body, "dimensionFilter": in_list}, limit=9))
    outside = (
        api.properties()
        .runReport(
            property=PROPERTY,
            body={
                **body,
                "dimensions": [{"name": "country"}],
                "dimensionFilter": {
                    "notExpression": {"filter": {"fieldName": "continent", **europe}}
                },
            },
        )
        .execute()
    )

    assert {row["dimensionValues"][1]["value"] for row in both} == {"United States", "Germany"}
    assert len(both) == 2 * 31
    countries = {row["dimensionValues"][0]["value"] for row in outside["rows"]}
    assert countries == {"United States", "Canada", "Australia", "India", "Brazil", "(not set)"}


def test_property_quota_comes_back_when_asked(server: EmulatorServer) -> None:
    report = (
        analytics(server)
        .properties()
        .runReport(property=PROPERTY, body=by_date("7daysAgo", returnPropertyQuota=True))
        .execute()
    )

    quota = report["propertyQuota"]
    assert quota["tokensPerDay"]["consumed"] >= 1
    assert quota["tokensPerHour"]["remaining"] < 40_000


def test_metadata_and_batches_answer_through_the_client(server: EmulatorServer) -> None:
    api = analytics(server)

    metadata = api.properties().getMetadata(name=f"{PROPERTY}/metadata").execute()
    batch = (
        api.properties()
        .batchRunReports(
            property=PROPERTY, body={"requests": [by_date("3daysAgo"), by_date("10daysAgo")]}
        )
        .execute()
    )

    key_events = next(m for m in metadata["metrics"] if m["apiName"] == "keyEvents")
    assert key_events["deprecatedApiNames"] == ["conversions"]
    assert {d["apiName"] for d in metadata["dimensions"]} >= {"date", "country", "pagePath"}
    assert [report["rowCount"] for report in batch["reports"]] == [3, 10]


def test_a_wrong_token_is_the_clients_http_error_401(server: EmulatorServer) -> None:
    with pytest.raises(HttpError) as refused:
        analytics(server, "ya29.not-this-one").properties().runReport(
            property=PROPERTY, body=by_date("7daysAgo")
        ).execute()

    assert refused.value.status_code == 401
    assert "invalid authentication credentials" in refused.value.reason
    assert refused.value.error_details[0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"


def test_a_refused_bare_token_cannot_be_refreshed_by_the_client(server: EmulatorServer) -> None:
    # The client's default: on a 401 it refreshes the credentials, which a bare token cannot.
    with pytest.raises(RefreshError):
        analytics(server, "ya29.not-this-one", refresh=True).properties().runReport(
            property=PROPERTY, body=by_date("7daysAgo")
        ).execute()


def test_a_revoked_token_is_refused_from_then_on(make_emulator) -> None:
    running = make_emulator({"ga4.daily_metrics": 10})
    api = analytics(running)
    assert api.properties().runReport(property=PROPERTY, body=by_date("3daysAgo")).execute()

    EmulatorControl(running.url).credentials("ga4", access_token="ya29.rotated")

    with pytest.raises(HttpError) as refused:
        api.properties().runReport(property=PROPERTY, body=by_date("3daysAgo")).execute()
    assert refused.value.status_code == 401
    rotated = analytics(running, "ya29.rotated").properties()
    assert rotated.runReport(property=PROPERTY, body=by_date("3daysAgo")).execute()["rowCount"]


def test_an_unknown_metric_is_the_clients_http_error_400(server: EmulatorServer) -> None:
    body = {**by_date("7daysAgo"), "metrics": [{"name": "happiness"}]}

    with pytest.raises(HttpError) as refused:
        analytics(server).properties().runReport(property=PROPERTY, body=body).execute()

    assert refused.value.status_code == 400
    assert "Field happiness is not a valid metric" in refused.value.reason
