"""Google Analytics 4: one row of a property's key metrics per day, from the Data API."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa
import requests
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from lifeboat.errors import ConfigError, VendorBadResponse, VendorError, VendorLockout
from lifeboat.vendors import Dataset, PingRequest, Vendor
from pipelines.arrow import to_table
from pipelines.base import VendorContext, rest_client
from pipelines.drift import Shape, current_shape
from pipelines.ga4.quota import classify_429, exhausted_bucket, spent, vendor_time
from pipelines.ga4.settings import (
    COLUMNS,
    DEFAULT_RECENT_DAYS,
    EARLIEST_DATE,
    METRICS,
    PAGE_LIMIT,
    PAGE_LIMIT_OPTION,
    PROPERTY_OPTION,
    RECENT_DAYS_OPTION,
    RUN_REPORT,
    START_DATE_OPTION,
)
from pipelines.http import error_detail
from pipelines.settings import MERGE_HINTS

log = logging.getLogger("lifeboat.ga4")


class RunReportPaginator(BasePaginator):
    """runReport's paging: the next request's `offset` in the JSON body, up to `rowCount`."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("metricHeaders"), list):
            raise VendorBadResponse("ga4", "runReport did not return a report")
        # Google leaves out zero counts: a report with no rows has no rowCount either.
        total = int(body.get("rowCount", 0))
        self.offset += len(data or [])
        if not data or self.offset >= total:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.json = {**request.json, "offset": self.offset}


def classify(vendor: str, response: requests.Response) -> VendorError | None:
    """Google's refusals for a property, each with what to do about it."""
    status = response.status_code
    if status == 429:
        return classify_429(vendor, response)
    if status == 403:
        return VendorLockout(
            vendor,
            f"{error_detail(response)} Check that the account behind the token still has at "
            "least Viewer access to the property.",
            status=status,
        )
    if status == 401:
        return VendorLockout(
            vendor,
            f"{error_detail(response)} The OAuth access token is missing, expired or revoked; "
            "issue a new one with the analytics.readonly scope.",
            status=status,
        )
    return None


def property_id(ctx: VendorContext) -> str:
    raw = str(ctx.option(PROPERTY_OPTION) or "").removeprefix("properties/")
    if not raw.isdigit():
        raise ConfigError(
            f"ga4: option '{PROPERTY_OPTION}' must be the numeric GA4 property id (Admin > "
            f"Property details), got {raw or 'nothing'!r}; set vendors.ga4.options."
            f"{PROPERTY_OPTION} in lifeboat.yaml"
        )
    return raw


def client(ctx: VendorContext) -> RESTClient:
    return rest_client(
        ctx,
        auth=BearerTokenAuth(ctx.credential("access_token")),
        paginator=RunReportPaginator(),
        data_selector="rows",
        classifier=classify,
    )


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _report_body(first: date, last: str, limit: int) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": first.isoformat(), "endDate": last}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": metric} for metric in METRICS],
        # Without an order the API promises none, and offsets would not page reliably.
        "orderBys": [{"dimension": {"dimensionName": "date"}, "desc": False}],
        "limit": limit,
        "offset": 0,
        # Each answer then says how many quota tokens are left, so a run that spends the
        # last of them stops before asking for a page the property would refuse.
        "returnPropertyQuota": True,
    }


def _records(page: Any, read_at: int) -> list[dict[str, Any]]:
    """A page of report rows as flat records, after checking the headers are what we asked."""
    body = page.response.json()
    headers = [h.get("name") for h in body.get("metricHeaders", [])]
    if headers != list(METRICS) or [h.get("name") for h in body.get("dimensionHeaders", [])] != [
        "date"
    ]:
        raise VendorBadResponse("ga4", f"runReport answered other columns than asked: {headers}")
    metadata = body.get("metadata") or {}
    names = list(METRICS.values())
    records = []
    for row in page:
        day = row["dimensionValues"][0]["value"]
        record: dict[str, Any] = {
            "date": f"{day[:4]}-{day[4:6]}-{day[6:8]}",
            "currency_code": metadata.get("currencyCode"),
            "time_zone": metadata.get("timeZone"),
            "_changed_at": read_at,
            "_deleted": False,
        }
        for name, value in zip(names, row["metricValues"], strict=True):
            record[name] = value.get("value")
        records.append(record)
    return records


def _stop_if_quota_spent(page: Any) -> None:
    """Stop before the next page if this one spent the property's last tokens."""
    bucket = exhausted_bucket(page.response.json())
    if bucket is not None and page.paginator.has_next_page:
        now = vendor_time(page.response)
        raise spent(bucket, "ga4", "the report has more pages to read", now)


def _to_table(records: list[dict[str, Any]], shape: Shape | None) -> pa.Table:
    # A metric that is no longer a number sets its day aside (pipelines.drift).
    return to_table(records, COLUMNS["daily_metrics"], shape.reject if shape else None)


def first_date(ctx: VendorContext) -> date:
    """Where the first run starts: the `start_date` option, or the earliest date GA4 has."""
    raw = ctx.option(START_DATE_OPTION)
    try:
        return _as_date(raw) or EARLIEST_DATE
    except ValueError:
        raise ConfigError(
            f"ga4: option '{START_DATE_OPTION}' must be a date like 2024-01-31, got {raw!r}; "
            f"fix vendors.ga4.options.{START_DATE_OPTION} in lifeboat.yaml"
        ) from None


def whole_option(ctx: VendorContext, name: str, default: int) -> int:
    """A non-negative whole-number option (lifeboat.yaml hands options over as text)."""
    raw = ctx.option(name, default)
    if not str(raw).isdigit():
        raise ConfigError(
            f"ga4: option '{name}' must be a whole number of at least 0, got {raw!r}; fix "
            f"vendors.ga4.options.{name} in lifeboat.yaml"
        )
    return int(raw)


def _resource(ctx: VendorContext) -> DltResource:
    recent_days = whole_option(ctx, RECENT_DAYS_OPTION, DEFAULT_RECENT_DAYS)
    limit = min(whole_option(ctx, PAGE_LIMIT_OPTION, PAGE_LIMIT), PAGE_LIMIT) or PAGE_LIMIT

    @dlt.resource(
        name="daily_metrics",
        primary_key="date",
        **MERGE_HINTS,
    )
    def daily_metrics(
        # With a date cursor dlt's lag counts days: the still-processing days read again.
        day: dlt.sources.incremental[date] = dlt.sources.incremental(
            "date", range_start="closed", lag=recent_days or None
        ),
    ) -> Iterator[pa.Table]:
        # Checked here, not when the source is built: Dagster builds it to list the assets.
        path = RUN_REPORT.format(property_id=property_id(ctx))
        start_date = first_date(ctx)
        api = client(ctx)
        first = max(_as_date(day.last_value) or start_date, EARLIEST_DATE)
        end = _as_date(day.end_value)
        # dlt's end_value is exclusive; runReport's endDate is inclusive.
        last = (end - timedelta(days=1)).isoformat() if end else "today"
        read_at = int(time.time())
        rows = 0
        shape = current_shape(COLUMNS["daily_metrics"])
        for page in api.paginate(path, method="POST", json=_report_body(first, last, limit)):
            rows += len(page)
            if page:
                yield _to_table(_records(page, read_at), shape)
            _stop_if_quota_spent(page)
        log.info("ga4 daily_metrics: %d days from %s to %s", rows, first, last)

    return daily_metrics


@dlt.source(name="ga4", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """The daily metrics of the GA4 property named in the options."""
    return [_resource(ctx)] if ctx.wants("daily_metrics") else []


def ping(ctx: VendorContext) -> PingRequest:
    """The cheapest authenticated read: one metric for today, one row at most."""
    body = {
        "dateRanges": [{"startDate": "today", "endDate": "today"}],
        "metrics": [{"name": "activeUsers"}],
        "limit": 1,
    }
    return "POST", RUN_REPORT.format(property_id=property_id(ctx)), {"json": body}


VENDOR = Vendor(
    name="ga4",
    title="Google Analytics 4",
    base_url="https://analyticsdata.googleapis.com",
    credentials=("access_token",),
    credentials_help=(
        "an OAuth access token of an account with at least Viewer access to the property "
        "(scope analytics.readonly is enough)"
    ),
    datasets=(
        Dataset(
            "daily_metrics",
            "Daily website visitors, sessions, page views, conversions and revenue "
            "from Google Analytics.",
            tuple(COLUMNS["daily_metrics"]),
            cursor="date",
            daily=True,
        ),
    ),
    source=source,
    client=client,
    ping=ping,
    options=(PROPERTY_OPTION, START_DATE_OPTION, RECENT_DAYS_OPTION, PAGE_LIMIT_OPTION),
)
