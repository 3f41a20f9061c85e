"""HTTP for every connector: retries that honour Retry-After, failures named by kind."""

from __future__ import annotations

import email.utils
import html
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from requests.hooks import dispatch_hook

from lifeboat.errors import (
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from lifeboat.secrets import mask
from pipelines.settings import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_MAX_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    READ_TIMEOUT_SECONDS,
    RETRY_BUDGET_SECONDS,
)

log = logging.getLogger("lifeboat.http")

# A vendor hook that recognises its own failure bodies (suspension codes, quota errors)
# and returns the error to raise, or None to fall back to the status-code rules.
Classifier = Callable[[str, requests.Response], VendorError | None]


_HTML = re.compile(r"<\s*(html|body|head|h1|title|!doctype)\b", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<(?:title|h1)[^>]*>(.*?)</(?:title|h1)>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def error_detail(response: requests.Response, limit: int = 300) -> str:
    """A short description of an error body for a person to read.

    A body may echo what it was sent: the session masks its credentials in every error it
    raises (VendorSession), and lifeboat.secrets.mask catches key shapes wherever text leaves.
    """
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text
        if _HTML.search(text):
            # A proxy's or load balancer's error page: its title says it, not its markup.
            found = _HTML_TITLE.search(text)
            text = _TAGS.sub(" ", found.group(1) if found else text)
        text = " ".join(html.unescape(text).split())
        return text[:limit] or response.reason or "no body"
    if isinstance(body, dict):
        for key in ("message", "detail", "description", "title", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("title")
            if isinstance(value, str) and value:
                return value[:limit]
    return str(body)[:limit]


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), else vendor reset headers."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    for header in ("X-RateLimit-Reset-After", "RateLimit-Reset"):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
    return None


def classify(vendor: str, response: requests.Response) -> VendorError:
    """The error a non-success response stands for, by status code."""
    status = response.status_code
    detail = error_detail(response)
    if status in (401, 403):
        return VendorLockout(vendor, detail, status=status)
    if status == 429:
        return VendorRateLimited(
            vendor, detail, status=status, retry_after=retry_after_seconds(response)
        )
    if status >= 500:
        return VendorOutage(vendor, detail, status=status)
    return VendorBadResponse(vendor, detail, status=status)


class JSONResponse(requests.Response):
    """A response that parses its JSON body once (with orjson) however often it is asked.

    dlt's RESTClient reads the body for the data and the paginator reads it again for the
    cursor; parsing once halves the work. A body that is not JSON is a bad response.
    """

    vendor = "vendor"

    def json(self, **kwargs: Any) -> Any:
        cached = self.__dict__.get("_parsed", _MISSING)
        if cached is _MISSING:
            try:
                cached = orjson.loads(self.content)
            except orjson.JSONDecodeError as exc:
                raise VendorBadResponse(
                    self.vendor,
                    f"the body is not valid JSON ({exc.msg} at byte {exc.pos} of "
                    f"{len(self.content)})",
                    status=self.status_code,
                ) from None
            self.__dict__["_parsed"] = cached
        return cached


_MISSING = object()


class VendorSession(requests.Session):
    """A session whose every request retries transient failures and names the rest.

    Outages and rate limits are retried with exponential backoff (Retry-After wins when the
    vendor sends it) until `max_attempts` or the time budget runs out; lockouts and bad
    requests are raised at once. dlt's RESTClient sends all its requests through `send`.
    """

    def __init__(
        self,
        vendor: str,
        classifier: Classifier | None = None,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        retry_budget: float = RETRY_BUDGET_SECONDS,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
        sleep: Callable[[float], None] = time.sleep,
        secrets: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.vendor = vendor
        # The credentials this session sends, wherever they go (a header of the API's own
        # choosing too): an error body that echoes one is masked before it is raised.
        self.secrets = secrets
        self.classifier = classifier
        self.max_attempts = max_attempts
        self.retry_budget = retry_budget
        self.timeout = timeout
        self.sleep = sleep
        self.retries = 0  # how many retries this session needed, for metadata
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "lifeboat (+backup of your own data)"
        self.headers["Accept"] = "application/json"

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        # requests scans the whole environment for proxy settings on every request; the
        # answer is the same for every page of one host, so it is worked out once per host.
        if proxies:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url.decode() if isinstance(url, bytes) else url or "")
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = settings
        return dict(settings)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        # Response hooks (dlt's raise-for-status among them) run only on the final success:
        # failures are retried or named here first.
        hooks, request.hooks = request.hooks, {"response": []}
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = super().send(request, **kwargs)
            except requests.Timeout as exc:
                error: VendorError = VendorOutage(
                    self.vendor, f"no answer in time ({type(exc).__name__})"
                )
            except requests.ConnectionError as exc:
                error = VendorOutage(self.vendor, _connection_detail(exc))
            else:
                if response.status_code < 400:
                    response.__class__ = JSONResponse
                    response.vendor = self.vendor
                    request.hooks = hooks
                    return dispatch_hook("response", hooks, response, **kwargs)
                error = (self.classifier and self.classifier(self.vendor, response)) or classify(
                    self.vendor, response
                )
                error = _masked(error, self.secrets)
            if not isinstance(error, VendorOutage | VendorRateLimited):
                raise error
            elapsed = time.monotonic() - started
            wait = error.retry_after
            if wait is None:
                wait = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                wait *= 0.5 + random.random() / 2
            if attempt >= self.max_attempts or elapsed + wait > self.retry_budget:
                raise error
            self.retries += 1
            log.warning("%s: %s; retry %d in %.1fs", self.vendor, error.kind, attempt, wait)
            self.sleep(wait)


def _masked(error: VendorError, secrets: tuple[str, ...]) -> VendorError:
    """The same error, with any of `secrets` in its detail masked."""
    detail = mask(error.detail, secrets)
    if detail == error.detail:
        return error
    return type(error)(
        error.vendor,
        detail,
        status=error.status,
        dataset=error.dataset,
        retry_after=error.retry_after,
    )


def _connection_detail(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "Name or service not known" in text or "getaddrinfo" in text or "NameResolution" in text:
        return "the vendor's host name could not be resolved (DNS)"
    if "refused" in text.lower():
        return "the connection was refused"
    return f"the connection failed ({type(exc).__name__})"
