"""Google's own error bodies for YouTube: credentials, lockouts, outages, rate limits, quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from emulators.core import Request, Response, json_response

GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
DEFAULT_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
}
LOGIN_REQUIRED = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
QUOTA_EXCEEDED = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)
LOCKOUTS = {
    "authenticatedUserAccountSuspended": "The YouTube account of the authenticated user is "
    "suspended.",
    "authenticatedUserAccountClosed": "The YouTube account of the authenticated user is closed.",
    "accountSuspended": "The YouTube account used to authorize the API request has been suspended.",
    "accountClosed": "The YouTube account used to authorize the API request has been closed.",
}
# The daily quota: 10,000 units per project by default, list calls cost 1 unit each, and
# even an invalid request costs at least one; it resets at midnight Pacific Time.
# https://developers.google.com/youtube/v3/getting-started#quota
# https://developers.google.com/youtube/v3/determine_quota_cost
DAILY_QUOTA_UNITS = 10_000
QUOTA_OPTION = "youtube.quota_units"  # a smaller daily budget, for tests (emulator scale)
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
LIST_COST = 1


def next_quota_reset(now: int) -> int:
    """The next midnight Pacific Time after `now` (epoch seconds), when the quota resets."""
    local = datetime.fromtimestamp(now, QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), QUOTA_ZONE)
    return int(midnight.timestamp())


class Quota:
    """Units spent today (a Pacific Time day of the emulated clock) against a daily budget."""

    def __init__(self, budget: int = DAILY_QUOTA_UNITS) -> None:
        self.budget = budget
        self.used = 0
        self._resets_at = 0

    def charge(self, now: int, units: int) -> bool:
        """Spend `units` if today's budget allows it; False once the quota is used up."""
        if now >= self._resets_at:
            self.used = 0
            self._resets_at = next_quota_reset(now)
        if self.used + units > self.budget:
            return False
        self.used += units
        return True


def google_error(status: int, message: str, reason: str, domain: str = "global", **extra: Any):
    """Google's error envelope; the first entry of `errors` may carry a shorter message."""
    short = extra.pop("short", message)
    detail: dict[str, Any] = {"message": short, "domain": domain, "reason": reason, **extra}
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": GOOGLE_STATUS.get(status, "UNKNOWN"),
        }
    }
    return json_response(body, status)


def bearer_token(request: Request) -> str | None:
    """The OAuth token of a request: the Authorization header, or the documented query forms."""
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    return request.arg("access_token") or request.arg("oauth_token")


class GoogleErrors:
    """Credentials and failures answered the way Google answers them."""

    credentials: dict[str, str]

    def authorized(self, request: Request) -> bool:
        token = bearer_token(request)
        expected = self.credentials.get("access_token")
        return bool(token) and token == expected

    def unauthorized(self, request: Request) -> Response:
        if bearer_token(request) is None:
            return google_error(
                401,
                LOGIN_REQUIRED,
                "required",
                short="Login Required.",
                location="Authorization",
                locationType="header",
            )
        return self.invalid_credentials()

    def invalid_credentials(self) -> Response:
        """A wrong, expired or revoked access token."""
        response = google_error(
            401,
            INVALID_CREDENTIALS,
            "authError",
            short="Invalid Credentials",
            location="Authorization",
            locationType="header",
        )
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        )
        return response

    def error(self, status: int, message: str, **extra: Any) -> Response:
        reason = extra.pop("reason", DEFAULT_REASONS.get(status, "backendError"))
        domain = extra.pop("domain", "global")
        return google_error(status, message, reason, domain, **extra)

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 403))
        if status == 401:
            return self.invalid_credentials()
        reason = fault.get("reason", "authenticatedUserAccountSuspended")
        return google_error(
            403,
            LOCKOUTS.get(reason, "Access forbidden."),
            reason,
            "youtube.header" if reason in LOCKOUTS else "global",
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        if fault.get("reason") == "quotaExceeded":
            return self.quota_exceeded(int(fault.get("now", 0)) or None)
        response = google_error(
            429, "Resource has been exhausted (e.g. check quota).", "rateLimitExceeded"
        )
        response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response

    def quota_exceeded(self, now: int | None) -> Response:
        """The daily quota: a 403 that no retry fixes before midnight Pacific Time."""
        response = google_error(403, QUOTA_EXCEEDED, "quotaExceeded", "youtube.quota")
        if now is not None:
            # Google's servers date every answer; a client can tell the reset from it.
            response.headers["Date"] = format_datetime(datetime.fromtimestamp(now, UTC), True)
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 503))
        if status == 503:
            return google_error(503, "The service is currently unavailable.", "backendError")
        return google_error(status, "Internal error encountered.", "backendError")
