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
from pipelines.arrow import batched_tables, schema
from pipelines.base import VendorContext, rest_client
from pipelines.progress import track
from pipelines.settings import MERGE_HINTS
from pipelines.stripe.settings import (
    API_VERSION,
    COLUMNS,
    EVENT_HORIZON_SECONDS,
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


def _listing(api: RESTClient, dataset: str, since: int | None, until: int | None):
    """Objects created in [since, until), newest first, marked changed when created."""
    params: dict[str, Any] = {}
    if since is not None:
        params["created[gte]"] = since
    if until is not None:
        params["created[lt]"] = until
    for page in _pages(api, f"/v1/{dataset}", params):
        for record in page:
            record["_changed_at"] = record["created"]
            record["_deleted"] = False
        yield page


def _changes(api: RESTClient, dataset: str, since: int, until: int | None):
    """Objects changed since `since`, from Stripe's events (kept 30 days)."""
    name = OBJECT_NAMES[dataset]
    params: dict[str, Any] = {"type": f"{name}.*", "created[gte]": since}
    if until is not None:
        params["created[lt]"] = until
    for page in _pages(api, "/v1/events", params):
        changed = []
        for event in page:
            obj = event.get("data", {}).get("object") or {}
            # charge.dispute.* events carry disputes, not charges: skip other objects.
            if obj.get("object") != name or event["type"].endswith(".created"):
                continue
            obj["_changed_at"] = event["created"]
            obj["_deleted"] = event["type"].endswith(".deleted")
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
        if since is not None and until is None:
            newest = _newest_event_time(api)
            if newest is not None and newest - since > EVENT_HORIZON_SECONDS:
                log.info("stripe %s: cursor older than Stripe keeps events; listing all", dataset)
                since = None
        # Tells the runner this run lists everything, so it can check the listing's size.
        dlt.current.resource_state()["full_listing"] = since is None
        pages = _listing(api, dataset, since, until)
        yield from batched_tables(pages, columns)
        if since is not None:
            yield from batched_tables(_changes(api, dataset, since, until), columns)

    return objects


@dlt.source(name="stripe", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """Every enabled Stripe dataset of the account behind the API key."""
    return [_resource(ctx, dataset) for dataset in COLUMNS if ctx.wants(dataset)]


# The incremental cursor of each dataset, which backfill windows bound (see runner).
CURSORS = {dataset: "_changed_at" for dataset in COLUMNS}


def arrow_schema(dataset: str) -> pa.Schema:
    return schema(COLUMNS[dataset])
