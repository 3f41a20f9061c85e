"""Harvest's own answers: authentication, a missing User-Agent, lockouts, outages, rate limits.

What is documented and what is not, so that nobody mistakes a guess for the contract:
- A rejected token is a 401 whose body is the OAuth error Harvest's identity service sends,
  also when the `Harvest-Account-Id` header is missing (reported against the live API:
  https://github.com/googleworkspace/apps-script-oauth2/issues/90). A well-formed id of an
  account the token cannot open gets the same answer here; no Harvest page says otherwise.
- No `User-Agent` header: 400 Bad Request, documented at
  https://help.getharvest.com/api-v2/introduction/overview/general/#api-requests (its body is
  not documented).
- 403 (no permission), 404, 422 (processing errors) and 429 (throttled) are Harvest's
  documented status codes (same page, "API Responses"). Their bodies are not documented;
  the emulator uses `{"message": ...}`, the shape of the `Error` schema in the OpenAPI
  description built from Harvest's reference (jolicode/harvest-php-api,
  Resources/harvest-openapi.yaml).
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import deque
from typing import Any

from emulators.core import Request, Response, json_response

INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or "
    "invalid for other reasons.",
}
# What Harvest's servers answered on a failure (text/html), as reported against the API:
# https://github.com/zmoazeni/harvested/issues/75
OUTAGE_PAGE = (
    b"We're sorry, but something went wrong. The problem has been reported to us and we are "
    b"looking into it.  E-mail us if you continue to experience issues: "
    b"https://www.getharvest.com/help/contact"
)


def presented(request: Request) -> tuple[str | None, str | None]:
    """The (access token, account id) a request carries, in its headers or its query."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    account = request.headers.get("harvest-account-id", "").strip() or None
    return token or request.arg("access_token"), account or request.arg("account_id")


def has_user_agent(request: Request) -> bool:
    return bool(request.headers.get("user-agent", "").strip())


def accepts(request: Request, credentials: dict[str, str]) -> bool:
    """Whether the request names the account's token and id (and carries a User-Agent)."""
    if not has_user_agent(request):
        return False
    token, account = presented(request)
    expected_token = credentials.get("access_token", "")
    expected_account = credentials.get("account_id", "")
    return (
        bool(token and expected_token and account and expected_account)
        and hmac.compare_digest(str(token), expected_token)
        and hmac.compare_digest(str(account), expected_account)
    )


def refused(request: Request) -> Response:
    """The answer to a request `accepts` turned down."""
    if not has_user_agent(request):
        return error(400, "Missing User-Agent header: name your application and a contact")
    return unauthorized()


def unauthorized() -> Response:
    return json_response(INVALID_TOKEN, 401)


def error(status: int, message: str, **extra: Any) -> Response:
    if status == 401:
        return unauthorized()
    return json_response({"message": message, **extra}, status)


def lockout(fault: dict[str, Any]) -> Response:
    """A revoked token (401) or a user or account without access any more (403)."""
    if int(fault.get("status", 401)) == 403:
        return error(403, "You do not have permission to access this resource")
    return unauthorized()


def rate_limited(retry_after: int) -> Response:
    response = error(429, "Too Many Requests")
    response.headers["Retry-After"] = str(retry_after)
    return response


def outage(fault: dict[str, Any]) -> Response:
    return Response(
        int(fault.get("status", 503)), OUTAGE_PAGE, content_type="text/html; charset=utf-8"
    )


class RateLimiter:
    """Harvest's request limit: `limit` requests per `window` seconds for each access token.

    https://help.getharvest.com/api-v2/introduction/overview/general/#rate-limiting
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, token: str) -> int | None:
        """Seconds until this token may ask again, or None (and the request is counted)."""
        now = time.monotonic()
        with self._lock:
            times = self._times.setdefault(token, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.limit:
                times.append(now)
                return None
            return max(1, math.ceil(times[0] + self.window - now))
