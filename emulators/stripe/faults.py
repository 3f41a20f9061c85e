"""Stripe's own answers to bad keys, lockouts, outages and rate limits (its error bodies).

Stripe's error object: https://docs.stripe.com/api/errors. Stripe has no daily quota; its
only volume limit is the request rate (https://docs.stripe.com/rate-limits).
"""

from __future__ import annotations

import base64
from typing import Any

from emulators.core import Request, Response, VendorApp, json_response
from emulators.stripe.data import token

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def presented_key(request: Request) -> str | None:
    """The API key a request carries (Bearer, or Basic with the key as user), if any."""
    auth = request.headers.get("authorization", "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0] or None
        except ValueError:
            return None
    return None


def masked(key: str) -> str:
    """A key as Stripe echoes it in errors: its mode prefix and last four characters."""
    prefix = next(
        (p for p in ("sk_test_", "sk_live_", "rk_test_", "rk_live_") if key.startswith(p)), ""
    )
    return f"{prefix}****{key[-4:]}" if len(key) > len(prefix) + 4 else "****"


class StripeFaults(VendorApp):
    """Stripe's error rendering: `{"error": {"type", "message", "code", "param"}}`."""

    def authorized(self, request: Request) -> bool:
        key = presented_key(request)
        return key is not None and key == self.credentials.get("api_key")

    def unauthorized(self, request: Request) -> Response:
        key = presented_key(request)
        if key is None:
            return self.error(401, NO_KEY)
        # A well-formed key Stripe does not know, or one revoked or rolled since.
        return self.error(401, f"Invalid API Key provided: {masked(key)}")

    def error(self, status: int, message: str, **extra: Any) -> Response:
        kind = "invalid_request_error"
        if status == 429:
            extra.setdefault("code", "rate_limit")
        elif status == 403:
            kind = "permission_error"
        elif status >= 500:
            kind = "api_error"
        body = {"error": {"message": message, "type": kind, **extra}}
        return json_response(body, status, Request_Id=f"req_{token(self.clock.now(), 14)}")

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403:
            return self.error(
                403,
                "The provided key does not have access to this account; the "
                "account has been rejected or closed.",
                code="account_invalid",
            )
        return self.error(
            401,
            "Expired API Key provided: sk_live_****ock1.",
            code=fault.get("code", "api_key_expired"),
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        # Stripe answers a burst over its read limit (100/s live, 25/s in test mode) with
        # 429 and code rate_limit, and tells its clients to retry with Stripe-Should-Retry;
        # it sends no Retry-After unless a test asks for one.
        # https://docs.stripe.com/rate-limits
        response = self.error(
            429,
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
        )
        if "retry_after" in fault:
            response.headers["Retry-After"] = str(fault["retry_after"])
        response.headers["Stripe-Should-Retry"] = "true"
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 503))
        return self.error(
            status,
            "We are experiencing issues with our servers. Please try again later.",
        )
