"""GA4's own error bodies (google.rpc.Status over JSON) and the property's quota tokens."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from emulators.core import BadRequest, Response, json_response

STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}
SERVICE = "analyticsdata.googleapis.com"
SIGN_IN = "https://developers.google.com/identity/sign-in/web/devconsole-project"
MISSING = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    f"login cookie or other valid authentication credential. See {SIGN_IN}."
)
INVALID = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    f"cookie or other valid authentication credential. See {SIGN_IN}."
)
QUOTAS_DOC = "https://developers.google.com/analytics/devguides/reporting/data/v1/quotas"
# Daily tokens refresh at midnight Pacific Time, hourly ones within the hour (QUOTAS_DOC).
PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
# Property quotas of a standard (not Analytics 360) property, per QUOTAS_DOC and
# https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/PropertyQuota
LIMITS = {
    "tokensPerDay": 200_000,
    "tokensPerHour": 40_000,
    "tokensPerProjectPerHour": 14_000,
    "concurrentRequests": 10,
    "serverErrorsPerProjectPerHour": 10,
    "potentiallyThresholdedRequestsPerHour": 120,
}
EXHAUSTED = {
    "tokensPerDay": "Exhausted property tokens per day",
    "tokensPerHour": "Exhausted property tokens per hour",
    "tokensPerProjectPerHour": "Exhausted property tokens per project per hour",
}


def error(status: int, message: str, **extra: Any) -> Response:
    """Google's JSON error body: {"error": {"code", "message", "status", ...}}."""
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": extra.pop("status", STATUS.get(status, "UNKNOWN")),
            **extra,
        }
    }
    return json_response(body, status)


def unauthorized(missing: bool, method: str) -> Response:
    """401 for a missing credential or a token Google does not know, told apart by reason."""
    reason = "CREDENTIALS_MISSING" if missing else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": SERVICE, "method": method},
    }
    response = error(401, MISSING if missing else INVALID, details=[info])
    challenge = 'Bearer realm="https://accounts.google.com/"'
    if not missing:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def lockout(fault: dict[str, Any]) -> Response:
    if int(fault.get("status", 403)) == 401:
        return error(401, INVALID)
    return error(
        403,
        "User does not have sufficient permissions for this property. To learn more about "
        "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/"
        "v1/property-id.",
    )


def rate_limited(fault: dict[str, Any]) -> Response:
    response = error(
        429,
        "Exhausted property tokens per hour. This property has used all of its hourly "
        "tokens; requests resume next hour.",
    )
    response.headers["Retry-After"] = str(fault.get("retry_after", 1))
    return response


def outage(fault: dict[str, Any]) -> Response:
    status = int(fault.get("status", 503))
    if status == 503:
        return error(503, "The service is currently unavailable.")
    return error(status, "Internal error encountered.")


def invalid(message: str) -> BadRequest:
    return BadRequest(400, message)


class Quota:
    """A property's core tokens: each report costs some, and a spent bucket refuses requests.

    Budgets default to a standard property's and are set lower through the emulator's scale
    (`ga4.tokens_per_day`, `ga4.tokens_per_hour`, `ga4.tokens_per_project_per_hour`).
    """

    def __init__(self, scale: dict[str, int]) -> None:
        self.limits = dict(LIMITS)
        for name, key in (
            ("tokensPerDay", "ga4.tokens_per_day"),
            ("tokensPerHour", "ga4.tokens_per_hour"),
            ("tokensPerProjectPerHour", "ga4.tokens_per_project_per_hour"),
        ):
            self.limits[name] = int(scale.get(key, self.limits[name]))
        self.used: dict[tuple[str, int], int] = {}

    def _period(self, name: str, now: int) -> int:
        if name == "tokensPerDay":
            local = dt.datetime.fromtimestamp(now, PACIFIC).date()
            return local.toordinal()
        return now // 3600

    def check(self, now: int) -> None:
        """Refuse the request if any token bucket is already spent (429 RESOURCE_EXHAUSTED)."""
        for name, message in EXHAUSTED.items():
            if self.used.get((name, self._period(name, now)), 0) >= self.limits[name]:
                when = "midnight Pacific Time" if name == "tokensPerDay" else "the next hour"
                raise BadRequest(
                    429,
                    f"{message}. The quota refreshes at {when}; to learn more, see {QUOTAS_DOC}",
                )

    def charge(self, now: int, tokens: int) -> dict[str, dict[str, int]]:
        """Spend `tokens` from every bucket; the PropertyQuota the response can carry."""
        state: dict[str, dict[str, int]] = {}
        for name in EXHAUSTED:
            key = (name, self._period(name, now))
            self.used[key] = used = self.used.get(key, 0) + tokens
            state[name] = {"consumed": tokens, "remaining": max(0, self.limits[name] - used)}
        for name in ("concurrentRequests", "serverErrorsPerProjectPerHour"):
            state[name] = {"consumed": 0, "remaining": self.limits[name]}
        state["potentiallyThresholdedRequestsPerHour"] = {
            "consumed": 0,
            "remaining": self.limits["potentiallyThresholdedRequestsPerHour"],
        }
        return state


def cost(rows: int, columns: int, days: int, filters: int) -> int:
    """Tokens a report costs: more rows, columns, days and filters cost more (QUOTAS_DOC)."""
    return 1 + rows // 1000 + columns // 10 + days // 366 + filters // 5
