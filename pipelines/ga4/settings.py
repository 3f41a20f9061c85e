"""Google Analytics 4 Data API's contract as the connector relies on it."""

from __future__ import annotations

from datetime import date

from pipelines.arrow import Column

RUN_REPORT = "/v1beta/properties/{property_id}:runReport"
PROPERTY_OPTION = "property_id"
# The API returns at most 250,000 rows per request whatever `limit` asks for.
PAGE_LIMIT = 250_000
PAGE_LIMIT_OPTION = "page_size"
# GA4 keeps processing a day for a few days after it ends, so the numbers of the last
# days still change: every run reads this many days before its cursor again.
RECENT_DAYS_OPTION = "recent_days"
DEFAULT_RECENT_DAYS = 3
# The first run reads from here (the earliest date the Data API accepts) unless told otherwise.
START_DATE_OPTION = "start_date"
EARLIEST_DATE = date(2015, 8, 14)
# Metrics in the order they are requested; the response's metricHeaders must match.
METRICS = {
    "activeUsers": "active_users",
    "sessions": "sessions",
    "screenPageViews": "screen_page_views",
    "conversions": "conversions",
    "totalRevenue": "total_revenue",
}
METRIC_KINDS = {"conversions": "float", "totalRevenue": "float"}

COLUMNS: dict[str, list[Column]] = {
    "daily_metrics": [
        # Arrives as an ISO date string and is stored as a DATE (see `_to_table`).
        Column("date", key=True),
        *[Column(name, METRIC_KINDS.get(metric, "int")) for metric, name in METRICS.items()],
        Column("currency_code"),
        Column("time_zone"),
        # When these numbers were read: the last days' numbers move until GA4 settles them.
        Column("_changed_at", "timestamp"),
        Column("_deleted", "bool"),
    ],
}
