"""HubSpot CRM: contacts, companies and deals, listed in full once, then only what changed."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa
import requests
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from lifeboat.errors import VendorBadResponse, VendorError, VendorLockout, VendorRateLimited
from lifeboat.vendors import Dataset, PingRequest, Vendor
from pipelines.arrow import batched_tables
from pipelines.base import VendorContext, rest_client
from pipelines.hubspot import settings
from pipelines.hubspot.settings import (
    COLUMNS,
    LIST_LIMIT,
    MODIFIED_PROPERTY,
    PROPERTIES,
    SEARCH_LIMIT,
)
from pipelines.progress import track
from pipelines.settings import MERGE_HINTS

log = logging.getLogger("lifeboat.hubspot")

Page = list[dict[str, Any]]

# Categories of HubSpot error bodies that mean the token no longer opens the account.
LOCKOUT_CATEGORIES = {"INVALID_AUTHENTICATION", "EXPIRED_AUTHENTICATION", "MISSING_SCOPES"}


class SearchPacer:
    """Spaces the search requests of one account so they stay under its per-second limit.

    The next search leaves `spacing` seconds after the previous one was answered, so however
    late a request travels, no two reach HubSpot closer together than that. The limit is
    the account's, so every search of one token in this process shares one pacer."""

    def __init__(self, spacing: float) -> None:
        self.spacing = spacing
        self._answered = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            delay = self._answered + self.spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def answered(self) -> None:
        with self._lock:
            self._answered = time.monotonic()


_PACERS: dict[str, SearchPacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer(ctx: VendorContext) -> SearchPacer:
    """The pacer of the account behind this context's token (keyed by a hash, never the token)."""
    token = ctx.credential("access_token")
    key = hashlib.sha256(f"{ctx.base_url}\0{token}".encode()).hexdigest()
    with _PACERS_LOCK:
        found = _PACERS.get(key)
        if found is None:
            found = _PACERS[key] = SearchPacer(settings.SEARCH_SPACING_SECONDS)
        return found


class HubSpotPaginator(BasePaginator):
    """HubSpot's `paging.next.after` cursor: a query parameter when listing, a body field
    when searching. A search stops short of the per-query result cap and records that in
    `capped`, so the caller can start a new query where this one ended; it waits for its
    `pacer` before each page."""

    def __init__(
        self, *, in_body: bool = False, cap: int | None = None, pace: SearchPacer | None = None
    ) -> None:
        super().__init__()
        self.in_body = in_body
        self.cap = cap
        self.pace = pace
        self.capped = False
        self._after: str | None = None

    def init_request(self, request: Request) -> None:
        if self.pace is not None:
            self.pace.wait()

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        if self.pace is not None:
            self.pace.answered()
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise VendorBadResponse("hubspot", "a listing did not return a `results` list")
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after or not data:
            self._has_next_page = False
            return
        # In a search, `after` is the offset of the next result.
        if self.cap is not None and str(after).isdigit() and int(after) >= self.cap:
            self.capped = True
            self._has_next_page = False
            return
        self._after = str(after)

    def update_request(self, request: Request) -> None:
        if self.pace is not None:
            self.pace.wait()
        if self.in_body:
            request.json = {**(request.json or {}), "after": self._after}
        else:
            request.params["after"] = self._after


def _seconds_to_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def classify(vendor: str, response: requests.Response) -> VendorError | None:
    """HubSpot's own error bodies: lockout categories and the daily call limit."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    status = response.status_code
    message = str(body.get("message") or "no message")
    category = body.get("category")
    if status == 429 and body.get("policyName") == "DAILY":
        # Retrying within this run cannot help: the limit resets at midnight.
        return VendorRateLimited(
            vendor,
            "the account's daily API call limit is used up; it resets at midnight",
            status=status,
            retry_after=_seconds_to_midnight(),
        )
    if status == 429 and body.get("policyName") == "SECONDLY":
        # The search endpoints' own per-second limit: the next second lets us in again.
        return VendorRateLimited(
            vendor,
            "the search endpoints' per-second limit was reached",
            status=status,
            retry_after=settings.SEARCH_RETRY_AFTER_SECONDS,
        )
    if status in (401, 403) or category in LOCKOUT_CATEGORIES:
        detail = f"{message} [{category}]" if category else message
        return VendorLockout(vendor, detail, status=status)
    return None


def client(ctx: VendorContext) -> RESTClient:
    return rest_client(
        ctx,
        auth=BearerTokenAuth(ctx.credential("access_token")),
        paginator=HubSpotPaginator(),
        data_selector="results",
        classifier=classify,
    )


def _millis(value: datetime | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(value.timestamp() * 1000)


def _pages(dataset: str, pages: Iterable[Page]) -> Iterator[Page]:
    return track(pages, "hubspot", dataset)


def _mark(page: Page, deleted: bool) -> Page:
    for record in page:
        record["_changed_at"] = record.get("archivedAt") if deleted else record.get("updatedAt")
        record["_deleted"] = deleted
    return page


def _listing(api: RESTClient, dataset: str, *, archived: bool) -> Iterator[Page]:
    """Every live (or every archived) object, in id order, with the properties we keep."""
    params = {
        "limit": LIST_LIMIT,
        "properties": ",".join(PROPERTIES[dataset]),
        "archived": "true" if archived else "false",
    }
    pages = api.paginate(f"/crm/v3/objects/{dataset}", params=params, paginator=HubSpotPaginator())
    for page in _pages(dataset, pages):
        yield _mark(page, archived)


def _deletions(api: RESTClient, dataset: str, since: int | None, until: int | None):
    """Objects archived in [since, until). HubSpot cannot filter these by date, but it keeps
    archived objects for only 90 days, so the listing stays short."""
    for page in _listing(api, dataset, archived=True):
        yield [
            record
            for record in page
            if (since is None or _millis(record["_changed_at"]) >= since)
            and (until is None or _millis(record["_changed_at"]) < until)
        ]


def _search(
    api: RESTClient,
    dataset: str,
    groups: list[list[dict[str, Any]]],
    sort: str,
    paginator: HubSpotPaginator,
) -> Iterator[Page]:
    body = {
        "filterGroups": [{"filters": filters} for filters in groups],
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "properties": PROPERTIES[dataset],
        "limit": SEARCH_LIMIT,
    }
    pages = api.paginate(
        f"/crm/v3/objects/{dataset}/search", method="POST", json=body, paginator=paginator
    )
    yield from _pages(dataset, pages)


def _changes(
    api: RESTClient, dataset: str, since: int, until: int | None, pace: SearchPacer
) -> Iterator[Page]:
    """Objects modified in [since, until), oldest change first, through the search endpoint.

    A search serves at most `SEARCH_RESULT_CAP` results, so when one stops there the next
    starts at the last modification time seen (skipping the objects already read at that
    instant). Should more than the cap share one instant, those are walked in id order.
    """
    modified = MODIFIED_PROPERTY[dataset]
    low, operator = since, "GTE"
    already: set[str] = set()  # ids read at time `low` by the previous query
    while True:
        filters = [{"propertyName": modified, "operator": operator, "value": str(low)}]
        if until is not None:
            filters.append({"propertyName": modified, "operator": "LT", "value": str(until)})
        paginator = HubSpotPaginator(in_body=True, cap=settings.SEARCH_RESULT_CAP, pace=pace)
        last: int | None = None
        at_last: set[str] = set()
        for page in _search(api, dataset, [filters], modified, paginator):
            fresh = []
            for record in page:
                when = _millis(record["properties"].get(modified) or record["updatedAt"])
                if when != last:
                    last, at_last = when, set()
                at_last.add(record["id"])
                if not (when == low and record["id"] in already):
                    fresh.append(record)
            yield _mark(fresh, False)
        if not paginator.capped or last is None:
            return
        if last > low:
            low, operator, already = last, "GTE", at_last
            log.info("hubspot %s: search cap reached; continuing from %s", dataset, low)
            continue
        yield from _same_instant(api, dataset, low, until, already | at_last, pace)
        operator, already = "GT", set()


def _same_instant(
    api: RESTClient,
    dataset: str,
    at: int,
    until: int | None,
    already: set[str],
    pace: SearchPacer,
) -> Iterator[Page]:
    """Every object modified at exactly `at` (ms) but not in `already`, in id order.

    HubSpot does not say how it orders results that share a modification time, so the
    walk starts from the lowest id rather than trusting where the capped query stopped.
    """
    modified = MODIFIED_PROPERTY[dataset]
    after_id = 0
    while True:
        filters = [
            {"propertyName": modified, "operator": "EQ", "value": str(at)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
        ]
        if until is not None:
            filters.append({"propertyName": modified, "operator": "LT", "value": str(until)})
        paginator = HubSpotPaginator(in_body=True, cap=settings.SEARCH_RESULT_CAP, pace=pace)
        for page in _search(api, dataset, [filters], "hs_object_id", paginator):
            if page:
                after_id = max(after_id, *(int(record["id"]) for record in page))
            yield _mark([record for record in page if record["id"] not in already], False)
        if not paginator.capped:
            return


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
        since = _millis(changed_at.last_value)
        until = _millis(changed_at.end_value)
        if since is None and until is None:
            pages = _listing(api, dataset, archived=False)
        else:
            pages = _changes(api, dataset, since or 0, until, pacer(ctx))
        yield from batched_tables(pages, columns)
        yield from batched_tables(_deletions(api, dataset, since, until), columns)

    return objects


@dlt.source(name="hubspot", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """Every enabled HubSpot CRM dataset of the account behind the private app token."""
    return [_resource(ctx, dataset) for dataset in COLUMNS if ctx.wants(dataset)]


def ping(ctx: VendorContext) -> PingRequest:
    """The cheapest authenticated read: one contact."""
    return "GET", "/crm/v3/objects/contacts", {"params": {"limit": 1}}


DESCRIPTIONS = {
    "contacts": "People in your HubSpot CRM, with how to reach them.",
    "companies": "Companies in your HubSpot CRM.",
    "deals": "Sales deals in your HubSpot pipeline, with stage and amount.",
}

VENDOR = Vendor(
    name="hubspot",
    title="HubSpot",
    base_url="https://api.hubapi.com",
    credentials=("access_token",),
    credentials_help=(
        "a private app's access token (read scopes crm.objects.contacts.read, "
        "crm.objects.companies.read and crm.objects.deals.read are enough)"
    ),
    datasets=tuple(Dataset(name, DESCRIPTIONS[name], tuple(COLUMNS[name])) for name in COLUMNS),
    source=source,
    client=client,
    ping=ping,
)
