"""Mailchimp's refusals: problem+json errors, API keys, and the limit on simultaneous calls.

Errors follow https://mailchimp.com/developer/marketing/docs/errors/ (problem+json with
`type`, `title`, `status`, `detail`, `instance`); the glossary names the titles used here.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import orjson

from emulators.core import Request, Response, VendorApp, mix

ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
KEY_MISSING = ("API Key Missing", "Your request did not include an API key.")
KEY_INVALID = (
    "API Key Invalid",
    "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
)
# "The Marketing API has a limit of 10 simultaneous connections. You'll receive a 429 error
# if you reach the limit." https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
MAX_CONNECTIONS = 10
TOO_MANY = ("Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
GATE_SECONDS = 30.0  # a test that forgets to open the gate still ends
TITLES = {
    400: "Invalid Resource",
    401: KEY_INVALID[0],
    403: "Forbidden",
    404: "Resource Not Found",
    405: "Method Not Allowed",
    429: TOO_MANY[0],
    500: "Internal Server Error",
}


def presented_key(request: Request) -> str | None:
    """The key a request carries: Basic auth's password (any user name) or a Bearer token."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except ValueError:
            return ""
        return decoded.partition(":")[2]
    if scheme in ("bearer", "apikey", "oauth"):
        return value
    return "" if scheme else None


class Problems(VendorApp):
    """Error bodies, the accepted key, and the count of calls in flight per key."""

    def setup(self) -> None:
        super().setup()
        self._requests = 0
        self._flight_lock = threading.Lock()
        self.in_flight: dict[str, int] = {}  # calls being answered, per key
        self.peak_in_flight = 0  # the most seen at once, for tests
        self.refused_connections = 0  # calls refused for exceeding MAX_CONNECTIONS
        # While set, admitted calls wait for it to open before they are answered, holding
        # their connections: how tests fill the connection limit deterministically.
        self.gate: threading.Event | None = None

    def _instance(self) -> str:
        self._requests += 1
        h = f"{mix(self.seed, self.clock.now(), self._requests):016x}{self._requests:016x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def problem(self, status: int, title: str, detail: str, **extra: Any) -> Response:
        body = {
            "type": ERROR_DOCS,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": self._instance(),
            **extra,
        }
        return Response(
            status, orjson.dumps(body), {"X-Request-Id": body["instance"]}, PROBLEM_JSON
        )

    def error(self, status: int, message: str, **extra: Any) -> Response:
        title = extra.pop("title", None) or TITLES.get(status, "Error")
        return self.problem(status, title, message, **extra)

    # --- keys and simultaneous calls ----------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        """A call with the account's key is admitted while fewer than 10 are in flight."""
        key = presented_key(request)
        if not key or key not in self.credentials.values():
            request.refusal = KEY_MISSING if key is None else KEY_INVALID  # type: ignore[attr-defined]
            return False
        with self._flight_lock:
            if self.in_flight.get(key, 0) >= MAX_CONNECTIONS:
                self.refused_connections += 1
                request.refusal = TOO_MANY  # type: ignore[attr-defined]
                return False
            self.in_flight[key] = flying = self.in_flight.get(key, 0) + 1
            self.peak_in_flight = max(self.peak_in_flight, flying)
        request.admitted = key  # type: ignore[attr-defined]
        gate = self.gate
        if gate is not None:
            gate.wait(GATE_SECONDS)
        return True

    def release(self, request: Request) -> None:
        """The call is answered: its connection no longer counts toward the limit."""
        key = getattr(request, "admitted", None)
        if key is None:
            return
        with self._flight_lock:
            self.in_flight[key] -= 1
        request.admitted = None  # type: ignore[attr-defined]

    def unauthorized(self, request: Request) -> Response:
        title, detail = getattr(request, "refusal", KEY_MISSING)
        if title == TOO_MANY[0]:
            # Mailchimp sends no Retry-After or rate-limit headers: clients back off themselves.
            return self.problem(429, title, detail)
        return self.problem(401, title, detail)

    # --- fault modes --------------------------------------------------------------------------

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403:
            return self.problem(403, "User Disabled", "This account has been disabled.")
        if status == 503:
            # An account under compliance review: a 503 that is a lockout, not an outage.
            return self.problem(503, "Compliance Related", "This method has been disabled.")
        return self.problem(401, *KEY_INVALID)

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        if int(fault.get("status", 429)) == 403:
            # "At exceptionally high volumes, you may receive an HTTP 429 or 403 without a JSON
            # body." https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
            return Response(403, b"", {}, "text/html")
        response = self.problem(429, *TOO_MANY)
        # The fault says when to come back so tests run fast; Mailchimp itself does not.
        response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response
