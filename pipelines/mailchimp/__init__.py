"""Mailchimp Marketing: audiences (lists), their members and campaigns, paged by count/offset."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import requests
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from lifeboat.errors import VendorBadResponse, VendorError, VendorLockout, VendorRateLimited
from lifeboat.vendors import CHANGED_AT, Dataset, PingRequest, Vendor
from pipelines.arrow import batched_tables
from pipelines.base import VendorContext, rest_client
from pipelines.mailchimp.settings import (
    API_ROOT,
    ARCHIVED,
    CALL_TIMEOUT_SECONDS,
    CAMPAIGN_REFRESH_SECONDS,
    COLUMNS,
    DC_OPTION,
    DESCRIPTIONS,
    EXCLUDE_FIELDS,
    LOCKOUT_TITLES,
    MEMBER_PASSES,
    PAGE_COUNT,
    PRIMARY_KEYS,
    SINCE_OVERLAP_SECONDS,
)
from pipelines.progress import track
from pipelines.settings import CONNECT_TIMEOUT_SECONDS, MERGE_HINTS

log = logging.getLogger("lifeboat.mailchimp")

_DATA_CENTER = re.compile(r"^[a-z]+[0-9]+$")
_DETAIL_LIMIT = 300


class MailchimpPaginator(BasePaginator):
    """Mailchimp's listing contract: `count` and `offset`, until `total_items` is reached."""

    def __init__(self, collection: str, count: int = PAGE_COUNT) -> None:
        super().__init__()
        self.collection = collection
        self.count = count
        self.offset = 0

    def init_request(self, request: Request) -> None:
        request.params["count"] = self.count
        request.params["offset"] = self.offset

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        if (
            not isinstance(body, dict)
            or not isinstance(body.get(self.collection), list)
            or not isinstance(body.get("total_items"), int)
        ):
            raise VendorBadResponse(
                "mailchimp", f"a {self.collection} page came without its records or total_items"
            )
        self.offset += self.count
        # An empty page before the total means the listing shrank while being read: stop
        # here rather than walk empty offsets (the next run asks again from the cursor).
        if self.offset >= body["total_items"] or not data:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.params["offset"] = self.offset


def data_center(api_key: str) -> str | None:
    """The data center an API key belongs to: its suffix after the last dash ("us6")."""
    _, dash, suffix = api_key.rpartition("-")
    return suffix if dash and _DATA_CENTER.match(suffix) else None


def classify(vendor: str, response: requests.Response) -> VendorError | None:
    """Mailchimp's problem+json refusals, each with what to do; other failures go by status."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if response.status_code == 403 and not isinstance(problem, dict):
        # Mailchimp's own refusals are problem+json; a bare 403 is its throttle at high volume.
        return VendorRateLimited(
            vendor, "Mailchimp is throttling the API key (a 403 without a body)", status=403
        )
    if not isinstance(problem, dict):
        return None
    title = str(problem.get("title") or "")
    detail = str(problem.get("detail") or "")[:_DETAIL_LIMIT]
    advice = LOCKOUT_TITLES.get(title)
    if advice is None and response.status_code in (401, 403):
        advice = "check the API key and the account's access"
    if advice is None:
        return None
    return VendorLockout(vendor, f"{title}: {detail} ({advice})", status=response.status_code)


def client(ctx: VendorContext) -> RESTClient:
    api_key = ctx.credential("api_key")
    dc = ctx.option(DC_OPTION) or data_center(api_key)
    api = rest_client(
        ctx,
        base_url=ctx.url(**({DC_OPTION: dc} if dc else {})),
        # Mailchimp's basic auth: any user name, the API key as the password.
        auth=HttpBasicAuth("lifeboat", api_key),
        classifier=classify,
    )
    api.session.timeout = (CONNECT_TIMEOUT_SECONDS, CALL_TIMEOUT_SECONDS)  # type: ignore[attr-defined]
    return api


def _epoch(value: datetime | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _pages(
    api: RESTClient, dataset: str, path: str, params: dict[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    paged = api.paginate(
        f"{API_ROOT}{path}",
        params={"exclude_fields": EXCLUDE_FIELDS[dataset], **params},
        paginator=MailchimpPaginator(dataset),
        data_selector=dataset,
    )
    yield from track(paged, "mailchimp", dataset)


def list_ids(api: RESTClient) -> list[str]:
    """Every audience of the account (members are listed per audience)."""
    paged = api.paginate(
        f"{API_ROOT}/lists",
        params={"fields": "lists.id,total_items"},
        paginator=MailchimpPaginator("lists"),
        data_selector="lists",
    )
    return [audience["id"] for page in paged for audience in page]


def _set(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _not_deleted(table: pa.Table) -> pa.Table:
    return _set(table, "_deleted", pa.repeat(False, table.num_rows))


def _lists_changed(table: pa.Table) -> pa.Table:
    """An audience's newest reported activity: created, last sign-up, unsubscribe or send."""
    names = ("date_created", "last_sub_date", "last_unsub_date", "campaign_last_sent")
    # Arrow compares zoned timestamps only as their integer ticks.
    ticks = [table[name].cast(pa.int64()) for name in names]
    newest = pc.max_element_wise(*ticks, skip_nulls=True)
    return _not_deleted(_set(table, "_changed_at", newest.cast(table["_changed_at"].type)))


def _members_changed(table: pa.Table) -> pa.Table:
    """Archived members are Mailchimp's deleted ones: kept in the copy, marked deleted."""
    archived = pc.fill_null(pc.equal(table["status"], ARCHIVED), False)
    return _set(table, "_deleted", archived)


def _campaigns_changed(table: pa.Table) -> pa.Table:
    """A sent campaign changed when it went out (a scheduled time is still in the future)."""
    sent = pc.fill_null(
        pc.and_(pc.equal(table["status"], "sent"), pc.is_valid(table["send_time"])), False
    )
    changed = pc.if_else(sent, table["send_time"], table["create_time"])
    return _not_deleted(_set(table, "_changed_at", changed))


def _lists_resource(ctx: VendorContext) -> DltResource:
    @dlt.resource(
        name="lists",
        primary_key=PRIMARY_KEYS["lists"],
        **MERGE_HINTS,
    )
    def lists() -> Iterator[pa.Table]:
        # Audiences have no change filter and number a handful: each run reads them all.
        pages = _pages(client(ctx), "lists", "/lists", {})
        for table in batched_tables(pages, COLUMNS["lists"]):
            yield _lists_changed(table)

    return lists


def _members_resource(ctx: VendorContext) -> DltResource:
    @dlt.resource(
        name="members",
        primary_key=PRIMARY_KEYS["members"],
        **MERGE_HINTS,
    )
    def members(
        # dlt injects the cursor's state through this default, so it must be a call here.
        changed_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            "_changed_at", range_start="closed"
        ),
    ) -> Iterator[pa.Table]:
        api = client(ctx)
        since = _epoch(changed_at.last_value)
        until = _epoch(changed_at.end_value)
        window: dict[str, Any] = {}
        if since is not None:
            window["since_last_changed"] = _iso(since - SINCE_OVERLAP_SECONDS)
        if until is not None:
            window["before_last_changed"] = _iso(until)

        def pages() -> Iterator[list[dict[str, Any]]]:
            for list_id in list_ids(api):
                for status in MEMBER_PASSES:
                    params = {**window, **({"status": status} if status else {})}
                    yield from _pages(api, "members", f"/lists/{list_id}/members", params)

        for table in batched_tables(pages(), COLUMNS["members"]):
            yield _members_changed(table)

    return members


def _campaigns_resource(ctx: VendorContext) -> DltResource:
    @dlt.resource(
        name="campaigns",
        primary_key=PRIMARY_KEYS["campaigns"],
        **MERGE_HINTS,
    )
    def campaigns(
        # The lag re-reads a week of campaigns each run: their reports are still filling.
        changed_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            "_changed_at", range_start="closed", lag=CAMPAIGN_REFRESH_SECONDS
        ),
    ) -> Iterator[pa.Table]:
        api = client(ctx)
        since = _epoch(changed_at.last_value)
        until = _epoch(changed_at.end_value)
        if since is None:
            windows: list[dict[str, Any]] = [{}]
        else:
            start = _iso(since - SINCE_OVERLAP_SECONDS)
            # New campaigns, and older drafts that were sent since.
            windows = [{"since_create_time": start}, {"since_send_time": start}]
        if until is not None:
            for window in windows:
                bound = "before_send_time" if "since_send_time" in window else "before_create_time"
                window[bound] = _iso(until)

        def pages() -> Iterator[list[dict[str, Any]]]:
            for window in windows:
                yield from _pages(api, "campaigns", "/campaigns", window)

        for table in batched_tables(pages(), COLUMNS["campaigns"]):
            yield _campaigns_changed(table)

    return campaigns


_RESOURCES: dict[str, Callable[[VendorContext], DltResource]] = {
    "lists": _lists_resource,
    "members": _members_resource,
    "campaigns": _campaigns_resource,
}


@dlt.source(name="mailchimp", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """Every enabled Mailchimp dataset of the account behind the API key."""
    return [_RESOURCES[dataset](ctx) for dataset in COLUMNS if ctx.wants(dataset)]


def ping(ctx: VendorContext) -> PingRequest:
    """Mailchimp's health check: authenticated, and it reads nothing."""
    return "GET", f"{API_ROOT}/ping", {}


VENDOR = Vendor(
    name="mailchimp",
    title="Mailchimp",
    base_url="https://{dc}.api.mailchimp.com",
    credentials=("api_key",),
    credentials_help=(
        "an API key of a user who can see every audience (it ends with the account's data "
        "center, e.g. -us6)"
    ),
    datasets=tuple(
        Dataset(
            name,
            DESCRIPTIONS[name],
            tuple(COLUMNS[name]),
            # Audiences are few and carry no change time: each run reads them whole.
            cursor=None if name == "lists" else CHANGED_AT,
        )
        for name in COLUMNS
    ),
    source=source,
    client=client,
    ping=ping,
    options=(DC_OPTION,),
)
