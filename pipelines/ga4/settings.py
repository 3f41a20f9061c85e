"""Google Analytics 4 Data API's contract as the connector relies on it."""

from __future__ import annotations

from datetime import date

from pipelines.arrow import Column

RUN_REPORT = "/v1beta/properties/{property_id}:runReport"
PROPERTY_OPTION = "property_id"
# The API returns at most 250,000 rows per request whatever `limit` asks for, so a report
# is read page by page with `offset` until `rowCount` rows have come:
# https://developers.google.com/analytics/devguides/reporting/data/v1/basics#pagination
PAGE_LIMIT = 250_000
PAGE_LIMIT_OPTION = "page_size"
# "Google Analytics allows for a data processing delay of 24-48 hours. During that time, data
# may change" (https://support.google.com/analytics/answer/11198161): every run reads this
# many days before its cursor again, a day more than the delay to cover the property's zone.
RECENT_DAYS_OPTION = "recent_days"
DEFAULT_RECENT_DAYS = 3
# The first run reads from here (the earliest date the Data API accepts) unless told otherwise.
START_DATE_OPTION = "start_date"
EARLIEST_DATE = date(2015, 8, 14)
# Metrics in the order they are requested; the response's metricHeaders must match.
# GA4 renamed `conversions` to `keyEvents` in 2024 and lists the old name among the metric's
# deprecatedApiNames (getMetadata), which stop answering after the deprecation period:
# https://developers.google.com/analytics/devguides/reporting/data/v1/changelog
# The copy keeps its `conversions` column, so existing copies need no migration.
METRICS = {
    "activeUsers": "active_users",
    "sessions": "sessions",
    "screenPageViews": "screen_page_views",
    "keyEvents": "conversions",
    "totalRevenue": "total_revenue",
}
METRIC_KINDS = {"keyEvents": "float", "totalRevenue": "float"}
# Property quotas: every report spends core tokens from hourly and daily buckets; a spent
# bucket refuses every request with 429 RESOURCE_EXHAUSTED until it refreshes. "Daily quotas
# refresh at midnight PST, and hourly quotas refresh within an hour":
# https://developers.google.com/analytics/devguides/reporting/data/v1/quotas
QUOTA_TIME_ZONE = "America/Los_Angeles"
TOKEN_BUCKETS = {
    "tokensPerDay": "daily",
    "tokensPerHour": "hourly",
    "tokensPerProjectPerHour": "hourly per-project",
}

COLUMNS: dict[str, list[Column]] = {
    "daily_metrics": [
        # Arrives as GA4's YYYYMMDD text and is stored as a DATE.
        Column("date", "date", key=True),
        *[Column(name, METRIC_KINDS.get(metric, "int")) for metric, name in METRICS.items()],
        Column("currency_code"),
        Column("time_zone"),
        # When these numbers were read: the last days' numbers move until GA4 settles them.
        Column("_changed_at", "timestamp"),
        Column("_deleted", "bool"),
    ],
}
