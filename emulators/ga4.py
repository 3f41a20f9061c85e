"""Google Analytics 4 Data API (runReport by date), with recent days still being processed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson

from emulators.core import BadRequest, Clock, Request, Response, VendorApp, json_response, mix
from emulators.settings import DAY, HISTORY_DAYS

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 250_000  # larger limits are capped, not refused
MAX_METRICS = 10
MAX_DIMENSIONS = 9
MAX_DATE_RANGES = 4
EARLIEST_DATE = dt.date(2015, 8, 14)  # GA4 refuses dates before this one
# Days whose numbers are still moving: GA4 keeps processing a day for up to ~3 days.
PROCESSING_DAYS = 3
# Share of a day's final numbers already visible once the day has ended.
SETTLED_AT_END_OF_DAY = 0.85
TIME_ZONE = "Etc/UTC"
CURRENCY = "USD"
# The metrics this property reports, with their GA4 types.
METRIC_TYPES = {
    "activeUsers": "TYPE_INTEGER",
    "newUsers": "TYPE_INTEGER",
    "totalUsers": "TYPE_INTEGER",
    "sessions": "TYPE_INTEGER",
    "screenPageViews": "TYPE_INTEGER",
    "eventCount": "TYPE_INTEGER",
    "conversions": "TYPE_FLOAT",
    "keyEvents": "TYPE_FLOAT",
    "totalRevenue": "TYPE_CURRENCY",
}
# Real GA4 dimensions that this emulator does not break data down by.
KNOWN_DIMENSIONS = {
    "date",
    "country",
    "city",
    "deviceCategory",
    "sessionSource",
    "pagePath",
    "dateHour",
    "week",
    "month",
    "year",
    "eventName",
    "sessionMedium",
}
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
PATH = re.compile(r"^/v1beta/properties/([^/:]+):runReport$")
DAYS_AGO = re.compile(r"^(\d+)daysAgo$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def day_number(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def day_date(number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=number)


class App(VendorApp):
    name = "ga4"

    def __init__(self, clock: Clock, seed: int, scale: dict[str, int], credentials=None) -> None:
        super().__init__(clock, seed, scale, credentials)
        # One record per day of history; the scale is how many days the property has data for.
        self.days = self.dataset("daily_metrics", HISTORY_DAYS)
        self.first_day = clock.start // DAY - self.days.initial

    # --- data -----------------------------------------------------------------------------

    def settled_share(self, number: int) -> float:
        """How much of day `number`'s final numbers the API shows at the current time."""
        now = self.clock.now()
        start, end = number * DAY, (number + 1) * DAY
        if now <= start:
            return 0.0
        if now < end:
            return SETTLED_AT_END_OF_DAY * (now - start) / DAY
        processed = (now - end) / (PROCESSING_DAYS * DAY)
        return min(1.0, SETTLED_AT_END_OF_DAY + (1 - SETTLED_AT_END_OF_DAY) * processed)

    def day_metrics(self, number: int) -> dict[str, float]:
        """The numbers of one day as the API reports them now (final after a few days)."""
        h = mix(self.seed, number)
        age = number - self.first_day
        weekday = day_date(number).weekday()
        # A business that grows slowly, is quieter at weekends and has noisy days.
        base = (300 + age * 0.6) * (0.7 if weekday >= 5 else 1.0) * (0.8 + (h % 400) / 1000)
        share = self.settled_share(number)
        users = int(base * share)
        sessions = int(users * (1.25 + (h >> 10) % 30 / 100))
        conversions = int(sessions * (0.02 + (h >> 20) % 20 / 1000))
        return {
            "activeUsers": users,
            "newUsers": int(users * 0.4),
            "totalUsers": int(users * 1.05),
            "sessions": sessions,
            "screenPageViews": int(sessions * (2.2 + (h >> 30) % 15 / 10)),
            "eventCount": int(sessions * 9.5),
            "conversions": conversions,
            "keyEvents": conversions,
            "totalRevenue": round(conversions * (30 + (h >> 40) % 4000 / 100), 2),
        }

    # --- errors in Google's format ---------------------------------------------------------

    def error(self, status: int, message: str, **extra: Any) -> Response:
        if status == 401 and message.startswith("missing"):
            message = (
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project."
            )
        body = {
            "error": {
                "code": status,
                "message": message,
                "status": extra.pop("status", STATUS.get(status, "UNKNOWN")),
                **extra,
            }
        }
        return json_response(body, status)

    def authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and bool(auth[7:].strip())

    def lockout(self, fault: dict[str, Any]) -> Response:
        if int(fault.get("status", 403)) == 401:
            return self.error(
                401,
                "Request had invalid authentication credentials. Expected "
                "OAuth 2 access token, login cookie or other valid authentication "
                "credential. See https://developers.google.com/identity/sign-in/"
                "web/devconsole-project.",
            )
        return self.error(
            403,
            "User does not have sufficient permissions for this property. To "
            "learn more about Property ID, see https://developers.google.com/"
            "analytics/devguides/reporting/data/v1/property-id.",
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        response = self.error(
            429,
            "Exhausted property tokens per hour. This property has used "
            "all of its hourly tokens; requests resume next hour.",
        )
        response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 503))
        if status == 503:
            return self.error(503, "The service is currently unavailable.")
        return self.error(status, "Internal error encountered.")

    # --- requests -------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        try:
            match = PATH.match(request.path)
            if match is None:
                raise BadRequest(404, f"Requested entity was not found: {request.path}")
            if request.method != "POST":
                raise BadRequest(404, f"Method {request.method} not found for {request.path}")
            if not match.group(1).isdigit():
                raise BadRequest(
                    400,
                    f"Invalid property ID: {match.group(1)}. A numeric Property ID is required.",
                )
            try:
                body = request.json()
            except orjson.JSONDecodeError:
                raise BadRequest(400, "Invalid JSON payload received.") from None
            if not isinstance(body, dict):
                raise BadRequest(400, "Invalid JSON payload received. Expected an object.")
            return self.run_report(request, body)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    def _date(self, value: Any, field: str) -> int:
        today = self.clock.now() // DAY
        text = str(value or "")
        if text == "today":
            return today
        if text == "yesterday":
            return today - 1
        ago = DAYS_AGO.match(text)
        if ago:
            return today - int(ago.group(1))
        if ISO_DATE.match(text):
            try:
                date = dt.date.fromisoformat(text)
            except ValueError:
                date = None
            if date is not None:
                if date < EARLIEST_DATE:
                    raise BadRequest(
                        400,
                        f"Invalid dateRange {field}: {text}. Dates must be on or after 2015-08-14.",
                    )
                return day_number(date)
        raise BadRequest(
            400,
            f"Invalid dateRange {field}: {text or '(empty)'}. Dates must be "
            "formatted as YYYY-MM-DD, NdaysAgo, yesterday, or today.",
        )

    def _int(self, body: dict[str, Any], field: str, default: int) -> int:
        raw = body.get(field, default)
        try:
            # int64 fields travel as JSON strings or numbers.
            return int(raw)
        except (TypeError, ValueError):
            raise BadRequest(400, f"Invalid value at '{field}' (TYPE_INT64), \"{raw}\"") from None

    def run_report(self, request: Request, body: dict[str, Any]) -> Response:
        ranges = body.get("dateRanges") or []
        if not ranges:
            raise BadRequest(400, "dateRanges is required: a report needs at least one date range.")
        if len(ranges) > MAX_DATE_RANGES:
            raise BadRequest(400, f"Requests are limited to {MAX_DATE_RANGES} dateRanges.")
        if len(ranges) > 1:
            raise BadRequest(400, "This emulator serves one dateRange per request.")
        first = self._date(ranges[0].get("startDate"), "startDate")
        last = self._date(ranges[0].get("endDate"), "endDate")
        if last < first:
            raise BadRequest(400, "Invalid dateRange: endDate must not be before startDate.")
        dimensions = [d.get("name") for d in body.get("dimensions") or []]
        metrics = [m.get("name") for m in body.get("metrics") or []]
        if len(dimensions) > MAX_DIMENSIONS:
            raise BadRequest(400, f"Requests are limited to {MAX_DIMENSIONS} dimensions.")
        if len(metrics) > MAX_METRICS:
            raise BadRequest(400, f"Requests are limited to {MAX_METRICS} metrics.")
        if not metrics:
            raise BadRequest(400, "At least one metric is required.")
        for name in metrics:
            if name not in METRIC_TYPES:
                raise BadRequest(
                    400,
                    f"Field {name} is not a valid metric. For a list of valid "
                    "dimensions and metrics, see https://developers.google.com/"
                    "analytics/devguides/reporting/data/v1/api-schema",
                )
        for name in dimensions:
            if name not in KNOWN_DIMENSIONS:
                raise BadRequest(
                    400,
                    f"Field {name} is not a valid dimension. For a list of "
                    "valid dimensions and metrics, see https://developers.google."
                    "com/analytics/devguides/reporting/data/v1/api-schema",
                )
        if dimensions != ["date"]:
            raise BadRequest(400, "This emulator serves reports by the date dimension only.")
        limit = self._int(body, "limit", DEFAULT_LIMIT)
        offset = self._int(body, "offset", 0)
        if limit < 0 or (limit == 0 and "limit" in body):
            raise BadRequest(400, f"limit must be positive, got {limit}.")
        if offset < 0:
            raise BadRequest(400, f"offset must be non-negative, got {offset}.")
        limit = min(limit or DEFAULT_LIMIT, MAX_LIMIT)

        # Days with data: from the property's first day up to today, inside the range.
        low = max(first, self.first_day)
        high = min(last, self.clock.now() // DAY)
        if high >= low and self.settled_share(high) == 0:
            high -= 1  # today, at its first instant, has nothing to report yet
        order_bys = body.get("orderBys") or []
        by_date = all(o.get("dimension", {}).get("dimensionName") == "date" for o in order_bys)
        if by_date and request.share >= 1:
            # Days are contiguous: a page is arithmetic, whatever the scale.
            total = max(0, high - low + 1)
            desc = bool(order_bys and order_bys[0].get("desc"))
            span = range(offset, min(total, offset + limit))
            page = [high - i for i in span] if desc else [low + i for i in span]
        else:
            days = [n for n in range(low, high + 1) if request.keeps(self.days, n - self.first_day)]
            days = self._ordered(days, order_bys, metrics)
            total = len(days)
            page = days[offset : offset + limit]
        rows = []
        for number in page:
            values = self.day_metrics(number)
            rows.append(
                {
                    "dimensionValues": [{"value": day_date(number).strftime("%Y%m%d")}],
                    "metricValues": [
                        {"value": self._format(values[m], METRIC_TYPES[m])} for m in metrics
                    ],
                }
            )
        self.count_served("daily_metrics", len(rows))
        report: dict[str, Any] = {
            "dimensionHeaders": [{"name": d} for d in dimensions],
            "metricHeaders": [{"name": m, "type": METRIC_TYPES[m]} for m in metrics],
        }
        # Proto3 JSON leaves out empty lists and zero counts: an empty report has neither.
        if rows:
            report["rows"] = rows
        if total:
            report["rowCount"] = total
        report["metadata"] = {"currencyCode": CURRENCY, "timeZone": TIME_ZONE}
        if body.get("returnPropertyQuota"):
            report["propertyQuota"] = {
                "tokensPerDay": {"consumed": 1, "remaining": 199_999},
                "tokensPerHour": {"consumed": 1, "remaining": 39_999},
                "concurrentRequests": {"consumed": 0, "remaining": 10},
            }
        report["kind"] = "analyticsData#runReport"
        return json_response(report)

    def _ordered(
        self, days: list[int], order_bys: list[dict[str, Any]], metrics: list[str]
    ) -> list[int]:
        """Days in the order asked for; the API promises no order without orderBys."""
        for order in reversed(order_bys):
            desc = bool(order.get("desc"))
            if "dimension" in order:
                name = order["dimension"].get("dimensionName")
                if name != "date":
                    raise BadRequest(
                        400, f"orderBys dimension {name} is not in the request's dimensions."
                    )
                days = sorted(days, reverse=desc)
            elif "metric" in order:
                name = order["metric"].get("metricName")
                if name not in metrics:
                    raise BadRequest(
                        400, f"orderBys metric {name} is not in the request's metrics."
                    )
                days = sorted(days, key=lambda n, m=name: self.day_metrics(n)[m], reverse=desc)
            else:
                raise BadRequest(400, "Each orderBy needs a dimension or a metric.")
        return days

    def _format(self, value: float, kind: str) -> str:
        if kind == "TYPE_INTEGER":
            return str(int(value))
        if kind == "TYPE_CURRENCY":
            return f"{value:.2f}".rstrip("0").rstrip(".")
        return str(int(value)) if float(value).is_integer() else str(value)
