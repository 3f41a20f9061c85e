"""YouTube: the channel's videos, comment threads and public subscribers (Data API v3)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import requests
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from lifeboat.errors import (
    ConfigError,
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorRateLimited,
)
from lifeboat.vendors import Dataset, PingRequest, Vendor
from pipelines.arrow import batched_tables
from pipelines.base import VendorContext, rest_client
from pipelines.http import error_detail, retry_after_seconds
from pipelines.progress import track
from pipelines.settings import MERGE_HINTS
from pipelines.youtube.settings import (
    API,
    COLUMNS,
    CURSOR,
    DAILY_QUOTA_REASONS,
    DEFAULT_LOOKBACK_DAYS,
    LOCKOUT_REASONS,
    LOOKBACK_OPTION,
    PAGE_SIZES,
    QUOTA_TIME_ZONE,
    SHORT_RATE_REASONS,
    VIDEO_IDS_PER_REQUEST,
    VIDEO_PARTS,
)

log = logging.getLogger("lifeboat.youtube")
_TAGS = re.compile(r"<[^>]+>")


class YouTubePaginator(BasePaginator):
    """Google's list contract: follow `nextPageToken` as `pageToken` until there is none."""

    def __init__(self) -> None:
        super().__init__()
        self._token: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        if (
            not isinstance(body, dict)
            or not str(body.get("kind", "")).endswith("ListResponse")
            or not isinstance(body.get("items", []), list)
        ):
            raise VendorBadResponse("youtube", "a list request did not return a list response")
        token = body.get("nextPageToken")
        if not token or not data:
            self._has_next_page = False
        else:
            self._token = token

    def update_request(self, request: Request) -> None:
        request.params["pageToken"] = self._token


def _google_reason(response: requests.Response) -> str | None:
    try:
        body = response.json()
        return body["error"]["errors"][0]["reason"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _vendor_time(response: requests.Response) -> datetime:
    """The time on Google's side: its Date header (our clock may be off), else ours."""
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


def _until_quota_reset(now: datetime) -> float:
    """Seconds until the daily quota resets (midnight Pacific time)."""
    try:
        zone: Any = ZoneInfo(QUOTA_TIME_ZONE)
    except ZoneInfoNotFoundError:
        zone = UTC
    local = now.astimezone(zone)
    # Midnight is built on the calendar date, so a day of 23 or 25 hours (DST) counts right.
    midnight = datetime.combine(local.date() + timedelta(days=1), time.min, zone)
    # Aware datetimes of one zone subtract by wall clock: compare them in UTC instead.
    return (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds()


def classify(vendor: str, response: requests.Response) -> VendorError | None:
    """Google's reasons: a spent daily quota, a suspended or closed account, a bad token."""
    status = response.status_code
    reason = _google_reason(response)
    detail = _TAGS.sub("", error_detail(response))
    if reason in DAILY_QUOTA_REASONS:
        wait = _until_quota_reset(_vendor_time(response))
        return VendorRateLimited(
            vendor,
            f"the project's daily YouTube API quota is used up; it resets at midnight Pacific "
            f"time, in {wait / 3600:.1f} hours, and the next run goes on from where the copy "
            f"stands ({detail})",
            status=status,
            retry_after=wait,
        )
    if reason in SHORT_RATE_REASONS or status == 429:
        return VendorRateLimited(
            vendor, detail, status=status, retry_after=retry_after_seconds(response)
        )
    if reason in LOCKOUT_REASONS:
        return VendorLockout(vendor, f"{LOCKOUT_REASONS[reason]} ({detail})", status=status)
    if status == 401:
        return VendorLockout(
            vendor,
            f"{detail}: the OAuth access token is missing, expired or revoked; issue a new one "
            "with the youtube.readonly scope",
            status=status,
        )
    return None


def client(ctx: VendorContext) -> RESTClient:
    return rest_client(
        ctx,
        auth=BearerTokenAuth(ctx.credential("access_token")),
        paginator=YouTubePaginator(),
        data_selector="items",
        classifier=classify,
    )


def _items(response: Response) -> list[dict[str, Any]]:
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise VendorBadResponse("youtube", f"{response.url.split('?')[0]} returned no items list")
    return body["items"]


def channel(api: RESTClient) -> tuple[str, str]:
    """The authorised channel's id and its uploads playlist id."""
    items = _items(api.get(f"{API}/channels", params={"mine": "true", "part": "contentDetails"}))
    if not items:
        raise VendorLockout("youtube", "the Google account behind the token has no YouTube channel")
    uploads = items[0].get("contentDetails", {}).get("relatedPlaylists", {}).get("uploads")
    if not uploads:
        raise VendorBadResponse("youtube", "the channel reports no uploads playlist")
    return items[0]["id"], uploads


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _newest_first(
    api: RESTClient,
    method: str,
    params: dict[str, Any],
    published: Callable[[dict[str, Any]], Any],
    since: datetime | None,
    until: datetime | None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of a newest-first listing, stopping once a page reaches back past `since`.

    Records published at or after `until` (a backfill window's end) are passed over.
    """
    params = {"maxResults": PAGE_SIZES[method], **params}
    for page in track(api.paginate(f"{API}/{method}", params=params), "youtube", method):
        times = [_time(published(item)) for item in page]
        kept = [
            item
            for item, at in zip(page, times, strict=True)
            if at is None or ((since is None or at >= since) and (until is None or at < until))
        ]
        if kept:
            yield kept
        # The listing is newest first: once a page ends before the cursor, the rest is older.
        oldest = min((at for at in times if at is not None), default=None)
        if since is not None and oldest is not None and oldest < since:
            return


def _video_pages(
    api: RESTClient, since: datetime | None, until: datetime | None
) -> Iterator[list[dict[str, Any]]]:
    """Uploads newest first, each page of playlist items turned into full videos."""
    _, uploads = channel(api)
    listing = _newest_first(
        api,
        "playlistItems",
        {"playlistId": uploads, "part": "contentDetails"},
        lambda item: item.get("contentDetails", {}).get("videoPublishedAt"),
        since,
        until,
    )
    for page in listing:
        ids = [item["contentDetails"]["videoId"] for item in page]
        for start in range(0, len(ids), VIDEO_IDS_PER_REQUEST):
            chunk = ids[start : start + VIDEO_IDS_PER_REQUEST]
            # Deleted and private videos are left out of the answer: nothing to copy for them.
            response = api.get(f"{API}/videos", params={"id": ",".join(chunk), "part": VIDEO_PARTS})
            yield _items(response)


def _comment_pages(
    api: RESTClient, since: datetime | None, until: datetime | None
) -> Iterator[list[dict[str, Any]]]:
    channel_id, _ = channel(api)
    params = {
        "allThreadsRelatedToChannelId": channel_id,
        "part": "snippet",
        "order": "time",
        "textFormat": "plainText",
    }
    yield from _newest_first(
        api,
        "commentThreads",
        params,
        lambda item: (
            item.get("snippet", {}).get("topLevelComment", {}).get("snippet", {}).get("publishedAt")
        ),
        since,
        until,
    )


def _subscriber_pages(
    api: RESTClient, since: datetime | None, until: datetime | None
) -> Iterator[list[dict[str, Any]]]:
    part = "snippet,subscriberSnippet"
    if since is None and until is None:
        # The full list comes in no particular order; only the recent feed is newest first.
        yield from api.paginate(
            f"{API}/subscriptions",
            params={
                "mySubscribers": "true",
                "part": part,
                "maxResults": PAGE_SIZES["subscriptions"],
            },
        )
        return
    yield from _newest_first(
        api,
        "subscriptions",
        {"myRecentSubscribers": "true", "part": part},
        lambda item: item.get("snippet", {}).get("publishedAt"),
        since,
        until,
    )


PAGES = {"videos": _video_pages, "comments": _comment_pages, "subscribers": _subscriber_pages}


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(value), UTC)


def _not_deleted(table: pa.Table) -> pa.Table:
    # Listings only show live items; deletions are never reported by YouTube.
    index = table.schema.get_field_index("_deleted")
    return table.set_column(index, "_deleted", pc.fill_null(table["_deleted"], False))


def lookback(ctx: VendorContext) -> float:
    """Days before the cursor to read again (lifeboat.yaml hands options over as text)."""
    raw = ctx.option(LOOKBACK_OPTION, DEFAULT_LOOKBACK_DAYS)
    try:
        days = float(raw)
    except (TypeError, ValueError):
        days = -1.0
    if days < 0:
        raise ConfigError(
            f"youtube: option '{LOOKBACK_OPTION}' must be a number of days of at least 0, got "
            f"{raw!r}; fix vendors.youtube.options.{LOOKBACK_OPTION} in lifeboat.yaml"
        )
    return days


def _resource(ctx: VendorContext, dataset: str) -> DltResource:
    columns = COLUMNS[dataset]
    lookback_days = lookback(ctx)

    @dlt.resource(
        name=dataset,
        primary_key="id",
        **MERGE_HINTS,
    )
    def items(
        # dlt hands back last_value already moved back by `lag`: the lookback window.
        published: dlt.sources.incremental[datetime] = dlt.sources.incremental(
            CURSOR[dataset], range_start="closed", lag=lookback_days * 86_400 or None
        ),
    ) -> Iterator[pa.Table]:
        api = client(ctx)
        since = _as_datetime(published.last_value)
        until = _as_datetime(published.end_value)
        for table in batched_tables(PAGES[dataset](api, since, until), columns):
            yield _not_deleted(table)

    return items


@dlt.source(name="youtube", max_table_nesting=0)
def source(ctx: VendorContext) -> list[DltResource]:
    """Every enabled YouTube dataset of the channel the OAuth token belongs to."""
    return [_resource(ctx, dataset) for dataset in COLUMNS if ctx.wants(dataset)]


def ping(ctx: VendorContext) -> PingRequest:
    """The channel's id: one quota unit, and it needs a token that can read the channel."""
    return "GET", f"{API}/channels", {"params": {"mine": "true", "part": "id"}}


VENDOR = Vendor(
    name="youtube",
    title="YouTube",
    base_url="https://www.googleapis.com",
    credentials=("access_token",),
    credentials_help=(
        "an OAuth access token of the channel's owner (scope youtube.readonly is enough)"
    ),
    datasets=(
        Dataset(
            "videos",
            "Videos on your YouTube channel, with views and likes.",
            tuple(COLUMNS["videos"]),
            cursor=CURSOR["videos"],
        ),
        Dataset(
            "comments",
            "Comments people left on your YouTube videos.",
            tuple(COLUMNS["comments"]),
            cursor=CURSOR["comments"],
            daily=True,
        ),
        Dataset(
            "subscribers",
            "People subscribed to your YouTube channel (those who made it public).",
            tuple(COLUMNS["subscribers"]),
            cursor=CURSOR["subscribers"],
        ),
    ),
    source=source,
    client=client,
    ping=ping,
    options=(LOOKBACK_OPTION,),
)
