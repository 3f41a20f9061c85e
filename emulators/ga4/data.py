"""The seeded GA4 property: its dimensions, metrics and each day's numbers, computed on demand.

A day's totals come from a seeded hash and the clock (recent days are still being processed).
A slice of a day (one country, one device, one channel, one page) is the day's totals times the
slice's share, so reports by any dimensions add up to the same totals and nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import NamedTuple

from emulators.core import mix
from emulators.settings import DAY

TIME_ZONE = "Etc/UTC"
CURRENCY = "USD"
# Days whose numbers are still moving. "Google Analytics allows for a data processing delay of
# 24-48 hours. During that time, data may change": https://support.google.com/analytics/answer/11198161
PROCESSING_DAYS = 3
# Share of a day's final numbers already visible once the day has ended.
SETTLED_AT_END_OF_DAY = 0.85
# The fixed rates the emulator converts revenue with when a request names another currency.
CURRENCY_RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 151.0, "CAD": 1.36, "AUD": 1.52}
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


class Family(NamedTuple):
    """Dimensions that describe one breakdown of the traffic (a country and its code, ...)."""

    dimensions: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # one tuple per slice, in `dimensions` order
    weights: tuple[int, ...]  # each slice's share of the traffic
    key_weights: tuple[int, ...]  # each slice's share of key events and revenue


FAMILIES = (
    Family(
        ("country", "countryId", "continent"),
        (
            ("United States", "US", "Americas"),
            ("United Kingdom", "GB", "Europe"),
            ("Germany", "DE", "Europe"),
            ("France", "FR", "Europe"),
            ("Canada", "CA", "Americas"),
            ("Australia", "AU", "Oceania"),
            ("India", "IN", "Asia"),
            ("Brazil", "BR", "Americas"),
            ("(not set)", "(not set)", "(not set)"),
        ),
        (40, 12, 9, 7, 8, 5, 10, 6, 3),
        (48, 14, 10, 7, 9, 6, 3, 3, 0),
    ),
    Family(("deviceCategory",), (("desktop",), ("mobile",), ("tablet",)), (52, 44, 4), (70, 27, 3)),
    Family(
        ("sessionDefaultChannelGroup", "sessionSource", "sessionMedium"),
        (
            ("Organic Search", "google", "organic"),
            ("Organic Search", "bing", "organic"),
            ("Direct", "(direct)", "(none)"),
            ("Referral", "news.ycombinator.com", "referral"),
            ("Organic Social", "linkedin.com", "referral"),
            ("Email", "newsletter", "email"),
            ("Paid Search", "google", "cpc"),
            ("Unassigned", "(not set)", "(not set)"),
        ),
        (34, 6, 22, 8, 9, 7, 11, 3),
        (30, 5, 25, 4, 5, 14, 17, 0),
    ),
    Family(
        ("pagePath",),
        (
            ("/",),
            ("/pricing",),
            ("/signup",),
            ("/contact",),
            ("/blog",),
            ("/blog/keeping-backups",),
            ("/docs/getting-started",),
            ("/careers",),
        ),
        (30, 14, 6, 4, 16, 12, 13, 5),
        # Reading the blog, the docs or the careers page never completes a key event.
        (20, 30, 40, 10, 0, 0, 0, 0),
    ),
)
FAMILY_OF = {name: family for family in FAMILIES for name in family.dimensions}


def _weekday(date: dt.date) -> int:
    return (date.weekday() + 1) % 7  # GA4 counts Sunday as day 0


# Dimensions read off the day itself, each as GA4 formats it.
DATE_DIMENSIONS: dict[str, Callable[[dt.date], str]] = {
    "date": lambda d: d.strftime("%Y%m%d"),
    "year": lambda d: f"{d.year:04d}",
    "month": lambda d: f"{d.month:02d}",
    "yearMonth": lambda d: d.strftime("%Y%m"),
    "day": lambda d: f"{d.day:02d}",
    "dayOfWeek": lambda d: str(_weekday(d)),
    "dayOfWeekName": lambda d: WEEKDAYS[_weekday(d)],
}


class Metric(NamedTuple):
    type: str
    ui_name: str
    category: str
    deprecated: tuple[str, ...] = ()


# The metrics the property reports. Counts add up across slices; ratios are worked out from them.
METRICS: dict[str, Metric] = {
    "activeUsers": Metric("TYPE_INTEGER", "Active users", "User"),
    "newUsers": Metric("TYPE_INTEGER", "New users", "User"),
    "totalUsers": Metric("TYPE_INTEGER", "Total users", "User"),
    "sessions": Metric("TYPE_INTEGER", "Sessions", "Session"),
    "engagedSessions": Metric("TYPE_INTEGER", "Engaged sessions", "Session"),
    "screenPageViews": Metric("TYPE_INTEGER", "Views", "Page / screen"),
    "eventCount": Metric("TYPE_INTEGER", "Event count", "Event"),
    # Renamed from `conversions` in 2024; the old name still answers for a while.
    "keyEvents": Metric("TYPE_FLOAT", "Key events", "Event", ("conversions",)),
    "totalRevenue": Metric("TYPE_CURRENCY", "Total revenue", "Revenue"),
    "userEngagementDuration": Metric("TYPE_SECONDS", "User engagement", "User"),
    "engagementRate": Metric("TYPE_FLOAT", "Engagement rate", "Session"),
    "bounceRate": Metric("TYPE_FLOAT", "Bounce rate", "Session"),
    "averageSessionDuration": Metric("TYPE_SECONDS", "Average session duration", "Session"),
    "screenPageViewsPerSession": Metric("TYPE_FLOAT", "Views per session", "Page / screen"),
    "sessionKeyEventRate": Metric("TYPE_FLOAT", "Session key event rate", "Session"),
}
ALIASES = {old: name for name, metric in METRICS.items() for old in metric.deprecated}
COUNTS = (
    "activeUsers",
    "newUsers",
    "totalUsers",
    "sessions",
    "engagedSessions",
    "screenPageViews",
    "eventCount",
    "userEngagementDuration",
)
KEY_COUNTS = ("keyEvents", "totalRevenue")  # these follow the slices' key-event shares


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else 0.0


DERIVED: dict[str, Callable[[dict[str, float]], float]] = {
    "engagementRate": lambda b: _ratio(b["engagedSessions"], b["sessions"]),
    "bounceRate": lambda b: 1 - _ratio(b["engagedSessions"], b["sessions"]) if b["sessions"] else 0,
    "averageSessionDuration": lambda b: _ratio(b["userEngagementDuration"], b["sessions"]),
    "screenPageViewsPerSession": lambda b: _ratio(b["screenPageViews"], b["sessions"]),
    "sessionKeyEventRate": lambda b: _ratio(b["keyEvents"], b["sessions"]),
}
DIMENSIONS = (*DATE_DIMENSIONS, *FAMILY_OF)


def day_date(number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=number)


def day_number(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


@functools.lru_cache(maxsize=4096)
def shares(seed: int, number: int, family: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Each slice's share of a day's traffic and key events (weights with a daily wobble)."""
    spec = FAMILIES[family]
    wobble = [0.8 + mix(seed, number, family, i) % 400 / 1000 for i in range(len(spec.values))]
    traffic = [w * j for w, j in zip(spec.weights, wobble, strict=True)]
    keys = [w * j for w, j in zip(spec.key_weights, wobble, strict=True)]
    total, key_total = sum(traffic), sum(keys) or 1.0
    return tuple(t / total for t in traffic), tuple(k / key_total for k in keys)


class Property:
    """One GA4 property's numbers over the emulated clock."""

    def __init__(self, seed: int, first_day: int, now: Callable[[], int]) -> None:
        self.seed = seed
        self.first_day = first_day
        self.now = now

    def today(self) -> int:
        return self.now() // DAY

    def settled_share(self, number: int) -> float:
        """How much of day `number`'s final numbers the API shows at the current time."""
        now = self.now()
        start, end = number * DAY, (number + 1) * DAY
        if now <= start:
            return 0.0
        if now < end:
            return SETTLED_AT_END_OF_DAY * (now - start) / DAY
        processed = (now - end) / (PROCESSING_DAYS * DAY)
        return min(1.0, SETTLED_AT_END_OF_DAY + (1 - SETTLED_AT_END_OF_DAY) * processed)

    def day_totals(self, number: int) -> dict[str, float]:
        """The whole property's counts for one day as the API reports them now."""
        if number < self.first_day:
            return dict.fromkeys((*COUNTS, *KEY_COUNTS), 0)
        h = mix(self.seed, number)
        age = number - self.first_day
        weekday = day_date(number).weekday()
        # A business that grows slowly, is quieter at weekends and has noisy days.
        base = (300 + age * 0.6) * (0.7 if weekday >= 5 else 1.0) * (0.8 + (h % 400) / 1000)
        users = int(base * self.settled_share(number))
        sessions = int(users * (1.25 + (h >> 10) % 30 / 100))
        engaged = int(sessions * (0.55 + (h >> 50) % 20 / 100))
        key_events = int(sessions * (0.02 + (h >> 20) % 20 / 1000))
        return {
            "activeUsers": users,
            "newUsers": int(users * 0.4),
            "totalUsers": int(users * 1.05),
            "sessions": sessions,
            "engagedSessions": engaged,
            "screenPageViews": int(sessions * (2.2 + (h >> 30) % 15 / 10)),
            "eventCount": int(sessions * 9.5),
            "userEngagementDuration": engaged * (60 + (h >> 56) % 120),
            "keyEvents": key_events,
            "totalRevenue": round(key_events * (30 + (h >> 40) % 4000 / 100), 2),
        }

    def slice_counts(
        self, totals: dict[str, float], number: int, picks: dict[int, int]
    ) -> dict[str, float]:
        """The counts of one slice of a day: `picks` maps a family to the slice chosen in it."""
        traffic = keys = 1.0
        for family, index in picks.items():
            traffic_shares, key_shares = shares(self.seed, number, family)
            traffic *= traffic_shares[index]
            keys *= key_shares[index]
        counts = {name: totals[name] * traffic for name in COUNTS}
        for name in KEY_COUNTS:
            counts[name] = totals[name] * keys
        return counts


def metric_values(counts: dict[str, float], names: list[str], rate: float) -> list[float]:
    """The requested metrics of a row from its summed counts, in the request's currency."""
    values = []
    for name in names:
        if name in DERIVED:
            value = DERIVED[name](counts)
        elif name == "totalRevenue":
            value = round(counts[name] * rate, 2)
        else:
            value = counts[name]
        if METRICS[name].type == "TYPE_INTEGER" or name == "keyEvents":
            value = round(value)
        values.append(value)
    return values


def render(value: float, kind: str) -> str:
    """A metric value as the API writes it: a decimal string."""
    if kind == "TYPE_INTEGER":
        return str(int(value))
    if kind == "TYPE_CURRENCY":
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if float(value).is_integer():
        return str(int(value))
    return repr(round(float(value), 9))
