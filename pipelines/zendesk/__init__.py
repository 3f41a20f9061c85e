"""Zendesk Support: tickets and users, from the cursor-based incremental export."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
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

from lifeboat.errors import VendorBadResponse, VendorError, VendorLockout
from lifeboat.vendors import Dataset, PingRequest, Vendor
from pipelines.arrow import batched_tables
from pipelines.base import VendorContext, rest_client
from pipelines.http import error_detail
from pipelines.progress import track
from pipelines.settings import MERGE_HINTS
from pipelines.zendesk.settings import (
    CHANGED_AT,
    COLUMNS,
    DELETED_TICKET_STATUS,
    EXPORT_PATHS,
    PER_PAGE,
    START_TIME_FLOOR_SECONDS,
    SUBDOMAIN_OPTION,
    SUSPENDED_ERROR,
    TOO_RECENT_START_TIME,
)

log = logging.getLogger("lifeboat.zendesk")


class ZendeskCursorPaginator(BasePaginator):
    """The incremental export's cursor: follow `after_cursor` until `end_of_stream`."""

    def __init__(self) -> None:
        super().__init__()
        self._cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("end_of_stream"), bool):
            raise VendorBadResponse("zendesk", "an export page did not say whether it was the last")
        cursor = body.get("after_cursor")
        if body["end_of_stream"] or not data or not cursor:
            self._has_next_page = False
        else:
            self._cursor = cursor

    def update_request(self, request: Request) -> None:
        # The cursor carries the position and the start time; sending both is ambiguous.
        request.params.pop("start_time", None)
        request.params["cursor"] = self._cursor


def classify(vendor: str, response: requests.Response) -> VendorError | None:
    """Zendesk's refusals, each with what to do about it; other failures go by status."""
    status = response.status_code
    if status not in (401, 403):
        return None
    detail = error_detail(response)
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    if status == 401:
        hint = "check that the API token is active and belongs to this email's agent"
    elif code == SUSPENDED_ERROR:
        hint = "the account owner must reactivate the Zendesk account (usually billing)"
    else:
        hint = "the incremental export needs an admin's API token"
    return VendorLockout(vendor, f"{detail}; {hint}", status=status)


def client(ctx: VendorContext) -> RESTClient:
    subdomain = ctx.option(SUBDOMAIN_OPTION)
    return rest_client(
        ctx,
        base_url=ctx.url(**({SUBDOMAIN_OPTION: subdomain} if subdomain else {})),
        # Zendesk's API-token form of basic auth: "{email}/token" as the user name.
        auth=HttpBasicAuth(f"{ctx.credential('email')}/token", ctx.credential("api_token")),
        paginator=ZendeskCursorPaginator(),
        classifier=classify,
    )


def _epoch(value: datetime | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _changed_epoch(dataset: str, record: dict[str, Any]) -> int:
    value = record[CHANGED_AT[dataset]]
    if isinstance(value, str):
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return int(value)


def _start_time(since: int) -> int:
    """`since`, kept out of the last minute: Zendesk refuses a start_time that recent."""
    return min(since, int(time.time()) - START_TIME_FLOOR_SECONDS)


def _too_recent(error: VendorBadResponse) -> bool:
    return error.status == 422 and TOO_RECENT_START_TIME in error.detail


def _pages(
    api: RESTClient, dataset: str, since: int, until: int | None
) -> Iterator[list[dict[str, Any]]]:
    """Export pages of records changed at or after `since`, oldest change first."""
    params = {"start_time": _start_time(since), "per_page": PER_PAGE}
    paged = api.paginate(EXPORT_PATHS[dataset], params=params, data_selector=dataset)
    try:
        for page in track(paged, "zendesk", dataset):
            yield page
            # The export has no end_time; it is ordered by change time, so a backfill window
            # stops asking once it has passed its end (dlt drops the records beyond it).
            if until is not None and page and _changed_epoch(dataset, page[-1]) >= until:
                return
    except VendorBadResponse as error:
        # Zendesk's clock says `since` is within its last minute (ours may lag behind): it
        # has nothing to export after it yet, and the next run asks again.
        if not _too_recent(error):
            raise
        log.info("zendesk: %s: nothing older than a minute since %d yet", dataset, since)


def _mark_deleted(dataset: str, table: pa.Table) -> pa.Table:
    """Fill `_deleted` from the page in one vectorised step: deleted tickets, inactive users."""
    if dataset == "tickets":
        deleted = pc.equal(table["status"], DELETED_TICKET_STATUS)
    else:
        deleted = pc.invert(table["active"])
    index = table.schema.get_field_index("_deleted")
    return table.set_column(index, "_deleted", pc.fill_null(deleted, False))


def _resource(ctx: VendorContext, dataset: str) -> DltResource:
    columns = COLUMNS[dataset]

    @dlt.resource(
        name=dataset,
        primary_key="id",
        **MERGE_HINTS,
    )
    def records(
        changed_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            "_changed_at", range_start="closed"
        ),
    ) -> Iterator[pa.Table]:
        api = client(ctx)
        # No cursor yet: the export from the beginning of the account is the full copy.
        since = _epoch(changed_at.last_value) or 0
        until = _epoch(changed_at.end_value)
        for table in batched_tables(_pages(api, dataset, since, until), columns):
            yield _mark_deleted(dataset, table)

    return records


@dlt.source(name="zendesk", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """Every enabled Zendesk Support dataset of the account behind the API token."""
    return [_resource(ctx, dataset) for dataset in COLUMNS if ctx.wants(dataset)]


def ping(ctx: VendorContext) -> PingRequest:
    """The export's oldest user: one record, and it needs the admin token a copy needs."""
    return "GET", EXPORT_PATHS["users"], {"params": {"start_time": 0, "per_page": 1}}


VENDOR = Vendor(
    name="zendesk",
    title="Zendesk",
    base_url="https://{subdomain}.zendesk.com",
    credentials=("email", "api_token"),
    credentials_help=(
        "an admin's email and an API token (the incremental exports are open to admins only)"
    ),
    datasets=(
        Dataset(
            "tickets",
            "Support tickets in Zendesk: who asked, about what, and if it is solved.",
            tuple(COLUMNS["tickets"]),
            daily=True,
        ),
        Dataset(
            "users",
            "People who contacted support through Zendesk, and your agents.",
            tuple(COLUMNS["users"]),
        ),
    ),
    source=source,
    client=client,
    ping=ping,
    options=(SUBDOMAIN_OPTION,),
)
