"""Zendesk Support's own error answers: authentication, lockout, outage and rate limits."""

from __future__ import annotations

from typing import Any

from emulators.core import Response, json_response

# X-Rate-Limit of a Suite Professional account, requests per minute (account-wide).
ACCOUNT_RATE_LIMIT = 700
# Zendesk answers every authentication failure, a missing credential as much as a wrong
# one, with this one body; the API never says which part was wrong.
UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
RATE_LIMITED_TEXT = b"Number of allowed API requests per minute exceeded"
_CODES = {400: "InvalidValue", 403: "Forbidden", 404: "RecordNotFound", 422: "InvalidValue"}


def error(status: int, message: str, **extra: Any) -> Response:
    """Zendesk's JSON error envelope: {"error": code, "description": message}."""
    if status == 401:
        return unauthorized()
    code = extra.pop("code", None) or _CODES.get(status, "Error")
    return json_response({"error": code, "description": message, **extra}, status)


def unauthorized() -> Response:
    response = json_response(UNAUTHENTICATED, 401)
    response.headers["WWW-Authenticate"] = 'Basic realm="Web Password"'
    return response


def lockout(fault: dict[str, Any]) -> Response:
    """A revoked token (401), an agent without access (403) or a suspended account (403)."""
    status = int(fault.get("status", 401))
    if status == 403 and fault.get("reason") == "suspended":
        return error(
            403,
            "This account has been suspended. Please contact the account "
            "owner of this help desk for further help.",
            code="AccountSuspended",
        )
    if status == 403:
        return error(
            403,
            "You do not have access to this page. Please contact the "
            "account owner of this help desk for further help.",
        )
    return unauthorized()


def rate_limited(retry_after: int, limit: int = ACCOUNT_RATE_LIMIT) -> Response:
    """Zendesk's 429: a plain-text body and Retry-After in seconds.

    https://developer.zendesk.com/api-reference/introduction/rate-limits/
    """
    return Response(
        429,
        RATE_LIMITED_TEXT,
        {
            "Retry-After": str(retry_after),
            "X-Rate-Limit": str(limit),
            "X-Rate-Limit-Remaining": "0",
        },
        content_type="text/plain; charset=utf-8",
    )


def outage(fault: dict[str, Any]) -> Response:
    """What a Zendesk pod in maintenance or trouble answers: an HTML 503 page."""
    return Response(
        int(fault.get("status", 503)),
        b"<html><body><h1>503 Service Unavailable</h1>"
        b"<p>Zendesk is temporarily unavailable.</p></body></html>",
        content_type="text/html; charset=utf-8",
    )
