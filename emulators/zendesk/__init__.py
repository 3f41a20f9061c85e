"""Zendesk Support's API: tickets and users, through the incremental exports and the lists."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any

from emulators.core import Dataset, Request, Response, VendorApp
from emulators.zendesk import faults
from emulators.zendesk.data import Records
from emulators.zendesk.exports import Exports, Key, decode_cursor, encode_cursor
from emulators.zendesk.routes import ExportLimiter, Routes

__all__ = ["App", "decode_cursor", "encode_cursor"]

# Scale keys that switch on the export rate limit (off by default so that benchmarks and
# the demo page at full speed): requests allowed per window, and the window in seconds.
EXPORT_LIMIT_KEY = "zendesk.export_requests_per_window"
EXPORT_WINDOW_KEY = "zendesk.export_window_seconds"


class App(Records, Exports, Routes, VendorApp):
    name = "zendesk"
    # Record `url` fields name the account's real host, as Zendesk's do.
    base_url = "https://lifeboat-demo.zendesk.com"

    def setup(self) -> None:
        super().setup()
        self.users = self.dataset(
            "users", 300, created_per_day=6, updated_per_day=0.01, deleted_per_day=0.002
        )
        self.tickets = self.dataset(
            "tickets", 1500, created_per_day=40, updated_per_day=0.03, deleted_per_day=0.002
        )
        # Stripe's customers computed from the same seed, so that shared people carry the
        # same name and email in both vendors (nothing of Stripe's state is read).
        self.stripe_customers = Dataset("customers", self.seed, self.clock.start, 0)
        self.builders: dict[str, Callable[[int], dict[str, Any]]] = {
            "tickets": self.ticket,
            "users": self.user,
        }
        self._changed: dict[str, tuple[int, list[Key]]] = {}
        limit = self.scale.get(EXPORT_LIMIT_KEY, 0)
        window = self.scale.get(EXPORT_WINDOW_KEY, 60)
        self.limiter = ExportLimiter(limit, window) if limit else None

    def authorized(self, request: Request) -> bool:
        """Only the account's credentials: `{email}/token:{api_token}` or its OAuth token.

        Zendesk retired password access for the API, so `{email}:{password}` is refused.
        https://developer.zendesk.com/api-reference/introduction/security-and-auth/
        """
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = self.credentials.get("oauth_token") or self.credentials.get("access_token")
            return bool(token) and hmac.compare_digest(value.strip(), token)
        if scheme.lower() != "basic":
            return False
        try:
            user, _, secret = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        email, _, form = user.rpartition("/")
        expected_email = self.credentials.get("email", "")
        token = self.credentials.get("api_token", "")
        return (
            form == "token"
            and bool(expected_email and token)
            and email.lower() == expected_email.lower()
            and hmac.compare_digest(secret, token)
        )

    def unauthorized(self, request: Request) -> Response:
        return faults.unauthorized()

    def error(self, status: int, message: str, **extra: Any) -> Response:
        return faults.error(status, message, **extra)

    def lockout(self, fault: dict[str, Any]) -> Response:
        return faults.lockout(fault)

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        return faults.rate_limited(int(fault.get("retry_after", 1)))

    def outage(self, fault: dict[str, Any]) -> Response:
        return faults.outage(fault)
