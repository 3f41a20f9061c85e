"""GA4's property quota: when a spent token bucket refreshes, and the error that says so."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from lifeboat.errors import VendorRateLimited
from pipelines.ga4.settings import QUOTA_TIME_ZONE, TOKEN_BUCKETS
from pipelines.http import error_detail

PACIFIC = ZoneInfo(QUOTA_TIME_ZONE)
# Google's 429 names the bucket: "Exhausted property tokens per day", "... per hour", ...
EXHAUSTED = re.compile(r"tokens per (project per hour|hour|day)", re.IGNORECASE)
BUCKET_OF = {
    "day": "tokensPerDay",
    "hour": "tokensPerHour",
    "project per hour": "tokensPerProjectPerHour",
}


def vendor_time(response: requests.Response) -> datetime:
    """The time on Google's side, from its Date header (our clock may be off), else ours."""
    try:
        return parsedate_to_datetime(response.headers["Date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


def refresh_time(bucket: str, now: datetime) -> datetime:
    """When a spent bucket has tokens again: midnight Pacific Time, or the next hour."""
    if bucket == "tokensPerDay":
        local = now.astimezone(PACIFIC)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
        return midnight.astimezone(UTC)
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _when(bucket: str, resumes: datetime, now: datetime) -> str:
    wait = resumes - now
    hours, minutes = divmod(int(wait.total_seconds()) // 60, 60)
    daily = bucket == "tokensPerDay"
    moment = "at midnight Pacific Time" if daily else "at the top of the hour"
    return (
        f"GA4 refreshes them {moment}, {resumes:%Y-%m-%d %H:%M} UTC (in {hours}h{minutes:02d}m); "
        "the next run after that continues from the last good copy"
    )


def spent(
    bucket: str, vendor: str, why: str, now: datetime, status: int | None = None
) -> VendorRateLimited:
    """The error for a spent bucket, with how long to wait and when the copy resumes."""
    resumes = refresh_time(bucket, now)
    return VendorRateLimited(
        vendor,
        f"the property's {TOKEN_BUCKETS[bucket]} quota tokens are spent ({why}); "
        f"{_when(bucket, resumes, now)}.",
        status=status,
        retry_after=(resumes - now).total_seconds(),
    )


def exhausted_bucket(body: dict[str, Any]) -> str | None:
    """The first token bucket a report's `propertyQuota` shows as empty, if any."""
    quota = body.get("propertyQuota") or {}
    for bucket in TOKEN_BUCKETS:
        status = quota.get(bucket)
        if isinstance(status, dict) and int(status.get("remaining", 1)) <= 0:
            return bucket
    return None


def classify_429(vendor: str, response: requests.Response) -> VendorRateLimited | None:
    """A 429 that names a spent token bucket: wait for its refresh, not a few seconds."""
    detail = error_detail(response)
    found = EXHAUSTED.search(detail)
    if found is None or response.headers.get("Retry-After"):
        return None  # a short rate limit with its own Retry-After: the retries ride it out
    bucket = BUCKET_OF[found.group(1).lower()]
    return spent(bucket, vendor, detail, vendor_time(response), status=response.status_code)
