"""Stripe: customers, charges, invoices and subscriptions, new objects plus changes from events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from lifeboat.errors import VendorBadResponse
from lifeboat.vendors import Dataset, PingRequest, Vendor
from pipelines.arrow import batched_tables
from pipelines.base import VendorContext, rest_client
from pipelines.progress import track
from pipelines.settings import MERGE_HINTS
from pipelines.stripe.settings import (
    API_VERSION,
    COLUMNS,
    DELETION_EVENTS,
    EVENT_HORIZON_SECONDS,
    EVENT_TYPES,
    LIST_PARAMS,
    OBJECT_NAMES,
    PAGE_LIMIT,
)

log = logging.getLogger("lifeboat.stripe")


class StripePaginator(BasePaginator):
    """Stripe's list contract: `has_more`, and the next page `starting_after` the last id."""

    def __init__(self) -> None:
        super().__init__()
        self._after: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        if not isinstance(body, dict) or body.get("object") != "list":
            raise VendorBadResponse("stripe", "a list request did not return a list object")
        if not body.get("has_more") or not data:
            self._has_next_page = False
        else:
            self._after = data[-1]["id"]

    def update_request(self, request: Request) -> None:
        request.params["starting_after"] = self._after


def client(ctx: VendorContext) -> RESTClient:
    return rest_client(
        ctx,
        auth=BearerTokenAuth(ctx.credential("api_key")),
        headers={"Stripe-Version": API_VERSION},
        paginator=StripePaginator(),
        data_selector="data",
    )


def _epoch(value: datetime | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _pages(api: RESTClient, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    pages = api.paginate(path, params={"limit": PAGE_LIMIT, **params})
    return track(pages, "stripe", path.rsplit("/", 1)[-1])


def _flatten(dataset: str, record: dict[str, Any]) -> None:
    """Fill the copy's columns that Stripe's current objects keep elsewhere.

    Since 2025-03-31.basil a subscription's billing period sits on its items (Stripe takes
    the earliest item end, the latest item start) and an invoice's `paid` is its status.
    https://docs.stripe.com/changelog/basil
    """
    if dataset == "subscriptions" and "current_period_end" not in record:
        items = (record.get("items") or {}).get("data") or []
        ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
        starts = [i["current_period_start"] for i in items if i.get("current_period_start")]
        record["current_period_end"] = min(ends, default=None)
        record["current_period_start"] = max(starts, default=None)
    elif dataset == "invoices" and "paid" not in record:
        record["paid"] = record.get("status") == "paid"


def _listing(
    api: RESTClient, dataset: str, since: int | None, until: int | None, floor: int | None = None
):
    """Objects created in [since, until), newest first, marked changed when created.

    `floor` raises older marks to it: a full listing that replaces a cursor too old for
    Stripe's events must pass that cursor, or dlt would drop what it lists as already seen.
    """
    params: dict[str, Any] = dict(LIST_PARAMS.get(dataset, {}))
    if since is not None:
        params["created[gte]"] = since
    if until is not None:
        params["created[lt]"] = until
    flatten = dataset in ("subscriptions", "invoices")
    for page in _pages(api, f"/v1/{dataset}", params):
        for record in page:
            created = record["created"]
            record["_changed_at"] = created if floor is None or created >= floor else floor
            record["_deleted"] = False
            if flatten:
                _flatten(dataset, record)
        yield page


def _changes(api: RESTClient, dataset: str, since: int, until: int | None):
    """Objects changed since `since`, from Stripe's events (kept 30 days).

    An event about an object created at or after `since` is skipped (`*.created` among
    them) unless the object is gone: the listing by `created[gte]` in this same run holds
    that object as it is now, newer than any event's copy of it.
    """
    name = OBJECT_NAMES[dataset]
    params: dict[str, Any] = {"type": EVENT_TYPES[dataset], "created[gte]": since}
    if until is not None:
        params["created[lt]"] = until
    for page in _pages(api, "/v1/events", params):
        changed = []
        for event in page:
            obj = event.get("data", {}).get("object") or {}
            gone = event["type"] in DELETION_EVENTS
            # customer.* also matches customer.subscription.*, charge.* charge.dispute.*:
            # only events that carry this dataset's object are its changes.
            if obj.get("object") != name or (obj.get("created", 0) >= since and not gone):
                continue
            obj["_changed_at"] = event["created"]
            obj["_deleted"] = gone
            _flatten(dataset, obj)
            changed.append(obj)
        yield changed


def _newest_event_time(api: RESTClient) -> int | None:
    body = api.get("/v1/events", params={"limit": 1}).json()
    data = body.get("data") or []
    return data[0]["created"] if data else None


def _resource(ctx: VendorContext, dataset: str) -> DltResource:
    columns = COLUMNS[dataset]

    @dlt.resource(
        name=dataset,
        primary_key="id",
        **MERGE_HINTS,
    )
    def objects(
        changed_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            "_changed_at", range_start="closed"
        ),
    ) -> Iterator[pa.Table]:
        api = client(ctx)
        since = _epoch(changed_at.last_value)
        until = _epoch(changed_at.end_value)
        floor: int | None = None
        if since is not None and until is None:
            newest = _newest_event_time(api)
            if newest is not None and newest - since > EVENT_HORIZON_SECONDS:
                log.info("stripe %s: cursor older than Stripe keeps events; listing all", dataset)
                since, floor = None, since + 1
        # Tells the runner this run lists everything, so it can check the listing's size.
        dlt.current.resource_state()["full_listing"] = since is None
        pages = _listing(api, dataset, since, until, floor)
        yield from batched_tables(pages, columns)
        if since is not None:
            yield from batched_tables(_changes(api, dataset, since, until), columns)

    return objects


@dlt.source(name="stripe", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """Every enabled Stripe dataset of the account behind the API key."""
    return [_resource(ctx, dataset) for dataset in COLUMNS if ctx.wants(dataset)]


def ping(ctx: VendorContext) -> PingRequest:
    """The cheapest authenticated read: the newest event, if any."""
    return "GET", "/v1/events", {"params": {"limit": 1}}


DESCRIPTIONS = {
    "customers": "Everyone who has paid you through Stripe, with email, phone and address.",
    "charges": "Every card payment taken through Stripe, with amount, status and refunds.",
    "invoices": "Invoices sent through Stripe: amounts due, paid and overdue.",
    "subscriptions": "Recurring plans your customers pay for, and when each renews.",
}
DAILY = ("charges", "invoices")

VENDOR = Vendor(
    name="stripe",
    title="Stripe",
    base_url="https://api.stripe.com",
    credentials=("api_key",),
    credentials_help=(
        "a secret key, or better a restricted key (rk_live_...) with Read access to "
        "Customers, Charges, Invoices, Subscriptions and Events"
    ),
    datasets=tuple(
        Dataset(
            name,
            DESCRIPTIONS[name],
            tuple(COLUMNS[name]),
            daily=name in DAILY,
        )
        for name in COLUMNS
    ),
    source=source,
    client=client,
    ping=ping,
)
