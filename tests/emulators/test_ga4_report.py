"""runReport's documented parameters, each honoured or refused as the Data API does.

https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/properties/runReport
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer

TOKEN = demo_credentials(["ga4"])["ga4"]["access_token"]
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
PAGES = {
    "/",
    "/pricing",
    "/signup",
    "/contact",
    "/blog",
    "/blog/keeping-backups",
    "/docs/getting-started",
    "/careers",
}
DECEMBER = [{"startDate": "2025-12-01", "endDate": "2025-12-31"}]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    running = EmulatorServer(Emulator(seed=3, scale={"ga4.daily_metrics": 120})).start()
    yield running
    running.stop()


def run(
    server: EmulatorServer, dims: list[str], mets: list[str], query: str = "", **body: Any
) -> requests.Response:
    """A runReport of December by `dims` and `mets`; `body` adds or replaces fields."""
    payload = {
        "dateRanges": DECEMBER,
        "dimensions": [{"name": d} for d in dims],
        "metrics": [{"name": m} for m in mets],
        **body,
    }
    return requests.post(
        f"{server.url}/ga4/v1beta/properties/42:runReport{query}",
        json=payload,
        headers=HEADERS,
        timeout=10,
    )


def table(response: requests.Response) -> dict[tuple[str, ...], list[str]]:
    assert response.status_code == 200, response.text
    return {
        tuple(v["value"] for v in row["dimensionValues"]): [v["value"] for v in row["metricValues"]]
        for row in response.json().get("rows", [])
    }


def refused(response: requests.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert words in response.json()["error"]["message"]


def pages_where(server: EmulatorServer, string_filter: dict[str, Any]) -> set[str]:
    expression = {"filter": {"fieldName": "pagePath", "stringFilter": string_filter}}
    rows = table(run(server, ["pagePath"], ["sessions"], dimensionFilter=expression))
    return {key[0] for key in rows}


@pytest.mark.parametrize(
    ("string_filter", "pages"),
    [
        ({"matchType": "BEGINS_WITH", "value": "/blog"}, {"/blog", "/blog/keeping-backups"}),
        ({"matchType": "ENDS_WITH", "value": "-started"}, {"/docs/getting-started"}),
        ({"matchType": "CONTAINS", "value": "ic"}, {"/pricing"}),
        ({"matchType": "FULL_REGEXP", "value": "/(signup|contact)"}, {"/signup", "/contact"}),
        ({"matchType": "PARTIAL_REGEXP", "value": "back"}, {"/blog/keeping-backups"}),
        ({"value": "/PRICING"}, {"/pricing"}),
        ({"value": "/PRICING", "caseSensitive": True}, set()),
    ],
)
def test_string_filters_match_as_documented(
    server: EmulatorServer, string_filter: dict[str, Any], pages: set[str]
) -> None:
    assert pages_where(server, string_filter) == pages


def test_numeric_and_between_filters_work_on_dimension_values(server: EmulatorServer) -> None:
    between = {
        "betweenFilter": {
            "fromValue": {"int64Value": "20251201"},
            "toValue": {"doubleValue": 20251203},
        }
    }
    late = {"numericFilter": {"operation": "GREATER_THAN", "value": {"int64Value": "28"}}}

    first_days = table(
        run(
            server,
            ["date"],
            ["sessions"],
            dimensionFilter={"filter": {"fieldName": "date", **between}},
        )
    )
    last_days = table(
        run(
            server, ["date"], ["sessions"], dimensionFilter={"filter": {"fieldName": "day", **late}}
        )
    )

    assert sorted(first_days) == [("20251201",), ("20251202",), ("20251203",)]
    assert sorted(last_days) == [("20251229",), ("20251230",), ("20251231",)]


def test_and_or_not_groups_combine_filters(server: EmulatorServer) -> None:
    mobile = {"filter": {"fieldName": "deviceCategory", "stringFilter": {"value": "mobile"}}}
    us_or_gb = {"filter": {"fieldName": "countryId", "inListFilter": {"values": ["US", "GB"]}}}
    expression = {"andGroup": {"expressions": [{"notExpression": mobile}, us_or_gb]}}

    rows = table(
        run(server, ["country", "deviceCategory"], ["sessions"], dimensionFilter=expression)
    )

    assert set(rows) == {
        (country, device)
        for country in ("United States", "United Kingdom")
        for device in ("desktop", "tablet")
    }


def test_a_filter_on_a_dimension_not_asked_for_narrows_the_numbers(server: EmulatorServer) -> None:
    germany = {"filter": {"fieldName": "country", "stringFilter": {"value": "Germany"}}}

    everyone = table(run(server, ["date"], ["sessions"]))
    germans = table(run(server, ["date"], ["sessions"], dimensionFilter=germany))
    by_country = table(run(server, ["country"], ["sessions"]))

    assert set(germans) == set(everyone)
    assert all(int(germans[day][0]) < int(everyone[day][0]) for day in everyone)
    in_total = sum(int(values[0]) for values in germans.values())
    assert abs(in_total - int(by_country[("Germany",)][0])) <= len(germans)  # rounding per day


def test_metric_filters_apply_to_the_aggregated_rows(server: EmulatorServer) -> None:
    busy = {
        "numericFilter": {"operation": "GREATER_THAN_OR_EQUAL", "value": {"int64Value": "2000"}}
    }

    all_pages = table(run(server, ["pagePath"], ["sessions"]))
    busy_pages = table(
        run(
            server,
            ["pagePath"],
            ["sessions"],
            metricFilter={"filter": {"fieldName": "sessions", **busy}},
        )
    )

    assert busy_pages == {k: v for k, v in all_pages.items() if int(v[0]) >= 2000}
    assert 0 < len(busy_pages) < len(all_pages)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"dimensionFilter": {"filter": {"fieldName": "sessions", "emptyFilter": {}}}},
            "not a valid dimension",
        ),
        (
            {"metricFilter": {"filter": {"fieldName": "country", "emptyFilter": {}}}},
            "not a valid metric",
        ),
        (
            {"metricFilter": {"filter": {"fieldName": "sessions", "stringFilter": {"value": "1"}}}},
            "numericFilter",
        ),
        ({"dimensionFilter": {"filter": {"fieldName": "country"}}}, "exactly one"),
        ({"dimensionFilter": {}}, "exactly one"),
        (
            {
                "dimensionFilter": {
                    "filter": {
                        "fieldName": "pagePath",
                        "stringFilter": {"matchType": "FULL_REGEXP", "value": "("},
                    }
                }
            },
            "regular expression",
        ),
        (
            {
                "dimensionFilter": {
                    "filter": {"fieldName": "country", "inListFilter": {"values": []}}
                }
            },
            "must not be empty",
        ),
        (
            {
                "dimensionFilter": {
                    "filter": {"fieldName": "country", "stringFilter": {"matchType": "LIKE"}}
                }
            },
            "TYPE_ENUM",
        ),
        (
            {"orderBys": [{"dimension": {"dimensionName": "country"}}]},
            "not in the request's dimensions",
        ),
        ({"orderBys": [{"metric": {"metricName": "newUsers"}}]}, "not in the request's metrics"),
        ({"limit": "many"}, "TYPE_INT64"),
        ({"keepEmptyRows": "yes"}, "TYPE_BOOL"),
        ({"dateRange": DECEMBER}, 'Unknown name "dateRange"'),
        ({"dateRanges": [{"start": "2025-12-01"}]}, "Unknown name \"start\" at 'date_ranges[0]'"),
        (
            {"dateRanges": [{"startDate": "2025-12-01", "endDate": "today", "name": "RESERVED_x"}]},
            "cannot begin",
        ),
        ({"currencyCode": "XYZ"}, "currencyCode XYZ"),
        ({"cohortSpec": {}}, "cohortSpec is not served"),
        ({"comparisons": [{}]}, "comparisons is not served"),
        ({"metricAggregations": ["COUNT"]}, "COUNT is not served"),
        ({"property": "properties/7"}, "must match the property in the URL"),
        ({"dimensions": [{"name": "date"}, {"name": "date"}]}, "Duplicate dimension names: date"),
        ({"dimensions": [{"name": "browserMood"}]}, "Field browserMood is not a valid dimension"),
    ],
)
def test_what_the_contract_refuses_is_refused_with_googles_400(
    server: EmulatorServer, body: dict[str, Any], words: str
) -> None:
    refused(run(server, ["pagePath"], ["sessions"], **body), words)


def test_order_bys_sort_by_dimension_order_type_and_by_metric(server: EmulatorServer) -> None:
    numeric = [{"dimension": {"dimensionName": "dayOfWeek", "orderType": "NUMERIC"}, "desc": True}]
    by_views = [{"metric": {"metricName": "screenPageViews"}, "desc": True}]

    weekdays = run(server, ["dayOfWeek"], ["sessions"], orderBys=numeric).json()["rows"]
    pages = run(server, ["pagePath"], ["sessions", "screenPageViews"], orderBys=by_views).json()[
        "rows"
    ]

    assert [r["dimensionValues"][0]["value"] for r in weekdays] == [
        "6",
        "5",
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    views = [int(r["metricValues"][1]["value"]) for r in pages]
    assert views == sorted(views, reverse=True) and len(views) == len(PAGES)


def test_keep_empty_rows_shows_pages_that_never_lead_to_a_key_event(server: EmulatorServer) -> None:
    shown = table(run(server, ["pagePath"], ["keyEvents"]))
    kept = table(run(server, ["pagePath"], ["keyEvents"], keepEmptyRows=True))

    assert {key[0] for key in kept} == PAGES
    assert {key[0] for key, values in kept.items() if values == ["0"]} == PAGES - {
        k[0] for k in shown
    }
    assert "/blog" not in {key[0] for key in shown}


def test_aggregations_total_and_bound_the_rows(server: EmulatorServer) -> None:
    body = run(
        server, ["deviceCategory"], ["sessions"], metricAggregations=["TOTAL", "MAXIMUM", "MINIMUM"]
    ).json()

    values = [int(row["metricValues"][0]["value"]) for row in body["rows"]]
    assert abs(int(body["totals"][0]["metricValues"][0]["value"]) - sum(values)) <= 1
    assert int(body["maximums"][0]["metricValues"][0]["value"]) == max(values)
    assert int(body["minimums"][0]["metricValues"][0]["value"]) == min(values)
    assert body["totals"][0]["dimensionValues"] == [{"value": "RESERVED_TOTAL"}]


def test_several_date_ranges_label_each_row_with_its_range(server: EmulatorServer) -> None:
    ranges = [
        {"startDate": "2025-12-01", "endDate": "2025-12-07"},
        {"startDate": "2025-12-08", "endDate": "2025-12-14", "name": "second_week"},
    ]

    body = run(server, ["deviceCategory"], ["sessions"], dateRanges=ranges).json()

    assert [h["name"] for h in body["dimensionHeaders"]] == ["deviceCategory", "dateRange"]
    assert {r["dimensionValues"][1]["value"] for r in body["rows"]} == {
        "date_range_0",
        "second_week",
    }
    assert body["rowCount"] == 6


def test_invisible_metrics_order_rows_without_a_column(server: EmulatorServer) -> None:
    metrics = [{"name": "sessions"}, {"name": "totalRevenue", "invisible": True}]
    order = [{"metric": {"metricName": "totalRevenue"}, "desc": True}]

    body = run(server, ["pagePath"], [], metrics=metrics, orderBys=order).json()

    assert [h["name"] for h in body["metricHeaders"]] == ["sessions"]
    assert body["rows"][0]["dimensionValues"][0]["value"] == "/signup"  # where people pay


def test_a_currency_code_converts_revenue_and_is_echoed(server: EmulatorServer) -> None:
    dollars = table(run(server, ["deviceCategory"], ["totalRevenue"]))
    euros = run(server, ["deviceCategory"], ["totalRevenue"], currencyCode="EUR")

    assert euros.json()["metadata"]["currencyCode"] == "EUR"
    for key, value in table(euros).items():
        assert float(value[0]) == pytest.approx(float(dollars[key][0]) * 0.92, abs=0.01)


def test_the_deprecated_conversions_name_still_answers_under_its_own_header(
    server: EmulatorServer,
) -> None:
    old = run(server, ["date"], ["conversions"]).json()
    new = run(server, ["date"], ["keyEvents"]).json()

    assert old["metricHeaders"] == [{"name": "conversions", "type": "TYPE_FLOAT"}]
    assert [r["metricValues"] for r in old["rows"]] == [r["metricValues"] for r in new["rows"]]


def test_limit_and_offset_page_a_breakdown_and_int64_travels_as_text(
    server: EmulatorServer,
) -> None:
    whole = table(
        run(
            server,
            ["pagePath", "deviceCategory"],
            ["sessions"],
            orderBys=[{"dimension": {"dimensionName": "pagePath"}}],
        )
    )
    pages = [
        run(
            server,
            ["pagePath", "deviceCategory"],
            ["sessions"],
            limit=str(10),
            offset=offset,
            orderBys=[{"dimension": {"dimensionName": "pagePath"}}],
        )
        for offset in (0, 10, "20")
    ]

    assert [len(p.json()["rows"]) for p in pages] == [10, 10, 4]
    assert {k: v for p in pages for k, v in table(p).items()} == whole
    assert all(p.json()["rowCount"] == 24 for p in pages)
