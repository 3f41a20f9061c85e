"""Google Analytics 4 Data API's contract as the connector relies on it."""

from __future__ import annotations

from datetime import date

from lifeboat.columns import DELETED_DESCRIPTION
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

# What each metric counts, in GA4's own words (the Data API's dimensions and metrics
# reference: https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema),
# shortened to a line.
METRIC_DESCRIPTIONS = {
    "activeUsers": "The number of distinct users who visited your site or app",
    "sessions": "The number of sessions that began on your site or app",
    "screenPageViews": "The number of app screens or web pages your users viewed, repeated "
    "views included",
    "keyEvents": "The number of times users triggered a key event (GA4's keyEvents, called "
    "conversions before 2024)",
    "totalRevenue": "The sum of revenue from purchases, subscriptions and advertising, minus "
    "refunded transaction revenue",
}

COLUMNS: dict[str, list[Column]] = {
    "daily_metrics": [
        # Arrives as GA4's YYYYMMDD text and is stored as a DATE.
        Column(
            "date",
            "date",
            key=True,
            description="The date of the events counted, in the property's time zone",
        ),
        *[
            Column(name, METRIC_KINDS.get(metric, "int"), description=METRIC_DESCRIPTIONS[metric])
            for metric, name in METRICS.items()
        ],
        Column(
            "currency_code",
            description="The currency code (ISO 4217) the revenue is in: the property's currency",
        ),
        Column(
            "time_zone",
            description="The property's current timezone (IANA), which the dates are in",
        ),
        # When these numbers were read: the last days' numbers move until GA4 settles them.
        Column(
            "_changed_at",
            "timestamp",
            description="When lifeboat read these numbers; GA4 may still change the last few days",
        ),
        Column("_deleted", "bool", description=DELETED_DESCRIPTION),
    ],
}
