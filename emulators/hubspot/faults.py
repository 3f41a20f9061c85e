"""HubSpot's own error bodies: unauthorized, lockout, outage, rate limits, validation errors."""

from __future__ import annotations

import collections
import time
from typing import Any

from emulators.core import Clock, Request, Response, json_response, mix
from emulators.hubspot.data import PORTAL_ID

# The burst and daily limits of a private app on a Professional portal, announced in every
# answer's headers: https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details
TEN_SECONDLY_MAX = 190
DAILY_MAX = 500_000
# The search endpoints have their own, lower limit per account; a 429 names policy SECONDLY:
# https://developers.hubspot.com/docs/guides/api/crm/search#limitations
SEARCH_PER_SECOND = 5

# HubSpot answers a missing, malformed or unknown token alike (the body never says which:
# https://github.com/HubSpot/hubspot-api-nodejs/issues/432 shows a mangled token get it).
NOT_AUTHENTICATED = (
    "Authentication credentials not found. This API supports OAuth 2.0 "
    "authentication and you can find more details at "
    "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
}


class SearchLimiter:
    """Search requests of the last second of real time (the limit is about wall-clock speed)."""

    def __init__(self, per_second: int = SEARCH_PER_SECOND) -> None:
        self.per_second = per_second
        self._seen: collections.deque[float] = collections.deque()

    def admit(self) -> bool:
        now = time.monotonic()
        while self._seen and now - self._seen[0] >= 1.0:
            self._seen.popleft()
        if len(self._seen) >= self.per_second:
            return False
        self._seen.append(now)
        return True


class Errors:
    """The error answers of one portal, each with its own correlation id."""

    seed: int
    clock: Clock
    credentials: dict[str, str]
    _correlations: int = 0
    _requests: int = 0

    def correlation_id(self) -> str:
        self._correlations += 1
        h = mix(self.seed, self.clock.now(), self._correlations)
        hexed = f"{h:016x}{mix(h):016x}"
        return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """HubSpot's error body: https://developers.hubspot.com/docs/api-reference/error-handling"""
        category = extra.pop("category", None) or CATEGORIES.get(status)
        body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": self.correlation_id(),
        }
        if category:
            body["category"] = category
        where = extra.pop("in_", None)
        if where:
            body["errors"] = [{"message": message, "in": where}]
        body.update(extra)
        return json_response(body, status)

    def authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        token = self.credentials.get("access_token")
        return bool(token) and auth == f"Bearer {token}"

    def unauthorized(self, request: Request) -> Response:
        response = self.error(401, NOT_AUTHENTICATED, category="INVALID_AUTHENTICATION")
        if request.headers.get("authorization"):
            # A token was sent and refused (seen on a revoked private app token:
            # https://github.com/HubSpot/hubspot-api-python/issues/129).
            response.headers["X-HubSpot-Auth-Failure"] = "401 Unauthorized"
        return response

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403:
            return self.error(
                403,
                "This app hasn't been granted all required scopes to make this call. Read more "
                "about required scopes here: https://developers.hubspot.com/scopes.",
                category="MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )
        if fault.get("category") == "EXPIRED_AUTHENTICATION":
            return self.error(
                401,
                "The OAuth token used to make this call expired 2 day(s) ago.",
                category="EXPIRED_AUTHENTICATION",
            )
        return self.error(401, NOT_AUTHENTICATED, category="INVALID_AUTHENTICATION")

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        """A 429 of the burst (TEN_SECONDLY_ROLLING), daily or search (SECONDLY) policy."""
        policy = str(fault.get("policy", "TEN_SECONDLY_ROLLING")).upper()
        body = {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": self.correlation_id(),
            "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{policy.lower()}:{PORTAL_ID}",
            "category": "RATE_LIMITS",
        }
        response = json_response(body, 429)
        if policy != "SECONDLY":
            response.headers.update(self.limit_headers(remaining=0, daily_left=policy != "DAILY"))
        if policy == "TEN_SECONDLY_ROLLING" or "retry_after" in fault:
            # The rolling window frees up within seconds; a daily limit lasts until midnight.
            response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 503))
        if status == 500:
            return json_response(
                {
                    "status": "error",
                    "message": "internal error",
                    "correlationId": self.correlation_id(),
                },
                500,
            )
        # HubSpot sits behind Cloudflare: gateway failures come back as an HTML page.
        return Response(
            status,
            (
                f"<html><head><title>{status} Service Temporarily Unavailable</title></head>"
                f"<body><center><h1>{status} Service Temporarily Unavailable</h1></center>"
                "<hr><center>cloudflare</center></body></html>"
            ).encode(),
            {"CF-RAY": f"{mix(self.clock.now()):016x}-AMS"},
            content_type="text/html",
        )

    def limit_headers(
        self, remaining: int = TEN_SECONDLY_MAX - 1, daily_left: bool = True
    ) -> dict[str, str]:
        daily = max(DAILY_MAX - self._requests, 1) if daily_left else 0
        return {
            "X-HubSpot-RateLimit-Daily": str(DAILY_MAX),
            "X-HubSpot-RateLimit-Daily-Remaining": str(daily),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(TEN_SECONDLY_MAX),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }
