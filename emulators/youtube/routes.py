"""YouTube Data API v3 list methods: requests, filters, paging and partial responses."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from emulators.core import BadRequest, Clock, Dataset, Request, Response, json_response, mix
from emulators.youtube import params
from emulators.youtube.faults import LIST_COST, Quota
from emulators.youtube.fields import parse, select
from emulators.youtube.ids import chars

Body = dict[str, Any]
# The filters of each method, of which a request names exactly one (as documented).
FILTERS = {
    "channels": (
        "categoryId",
        "forHandle",
        "forUsername",
        "id",
        "managedByMe",
        "mine",
        "mySubscribers",
    ),
    "playlistItems": ("id", "playlistId"),
    "videos": ("chart", "id", "myRating"),
    "commentThreads": ("allThreadsRelatedToChannelId", "channelId", "id", "videoId"),
    "subscriptions": ("channelId", "id", "mine", "myRecentSubscribers", "mySubscribers"),
}
CONTENT_OWNER = "The authenticated user cannot act on behalf of the specified content owner."


def not_found(what: str, reason: str, domain: str, location: str) -> BadRequest:
    return BadRequest(
        404,
        f"The {what} identified with the request's <code>{location}</code> parameter "
        "cannot be found.",
        reason=reason,
        domain=domain,
        location=location,
        locationType="parameter",
    )


def incompatible(names: list[str]) -> BadRequest:
    return BadRequest(
        400,
        f"Incompatible parameters specified in the request: {', '.join(names)}",
        reason="incompatibleParameters",
        domain="youtube.parameter",
    )


class Routes:
    """Dispatch, the checks every method shares, and Google's paging contract."""

    clock: Clock
    seed: int
    quota: Quota
    credentials: dict[str, str]
    handlers: dict[str, Callable[[Request], Body]]
    error: Callable[..., Response]
    quota_exceeded: Callable[[int | None], Response]

    def route(self, request: Request) -> Response:
        # Every request costs quota, an invalid one too.
        if not self.quota.charge(self.clock.now(), LIST_COST):
            return self.quota_exceeded(self.clock.now())
        try:
            method = self._method(request)
            params.check(request, method)
            self._check_standard(request)
            body = self.handlers[method](request)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)
        fields = request.arg("fields")
        if fields:
            body = select(body, parse(fields))
        callback = request.arg("callback")
        if callback:
            text = b"// API callback\n" + callback.encode() + b"(" + orjson.dumps(body) + b");"
            return Response(200, text, content_type="text/javascript; charset=UTF-8")
        return json_response(body)

    def _method(self, request: Request) -> str:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["youtube", "v3"] or parts[2] not in self.handlers:
            raise BadRequest(404, f"Method not found: {request.path}", reason="notFound")
        if request.method != "GET":
            raise BadRequest(405, f"Method {request.method} not allowed here.")
        return parts[2]

    def _check_standard(self, request: Request) -> None:
        if request.arg("alt", "json") != "json":
            raise BadRequest(400, f"alt={request.arg('alt')} is not supported by this method.")
        key = request.arg("key")
        if key is not None and key != self.credentials.get("api_key"):
            raise BadRequest(400, "API key not valid. Please pass a valid API key.")
        if request.arg("fields"):
            parse(request.arg("fields") or "")
        if request.arg("onBehalfOfContentOwner") or request.arg("onBehalfOfContentOwnerChannel"):
            # Only YouTube content partners (CMS accounts) may act for a content owner.
            raise BadRequest(403, CONTENT_OWNER, reason="forbidden")

    def one_filter(self, request: Request, method: str) -> str:
        """The one filter a request names (a false flag counts as not named)."""
        named = [n for n in FILTERS[method] if request.arg(n) not in (None, "", "false")]
        if not named:
            raise BadRequest(
                400,
                f"No filter selected. Expected one of: {', '.join(FILTERS[method])}",
                reason="missingRequiredParameter",
                domain="youtube.parameter",
            )
        if len(named) > 1:
            raise incompatible(named)
        return named[0]

    def no_paging_with_ids(self, request: Request, also: tuple[str, ...] = ()) -> None:
        """Paging and ordering parameters are documented as not supported with `id`."""
        given = [n for n in ("maxResults", "pageToken", *also) if request.arg(n) is not None]
        if given:
            raise incompatible(["id", *given])

    def max_results(self, request: Request, method: str) -> int:
        raw = request.arg("maxResults")
        if raw is None:
            return {"commentThreads": 20}.get(method, 5)  # the documented defaults
        return int(raw)

    def token(self, kind: str, index: int) -> str:
        return base64.urlsafe_b64encode(f"{kind}:{index}".encode()).decode().rstrip("=")

    def from_token(self, request: Request, kind: str) -> int | None:
        raw = request.arg("pageToken")
        if not raw:
            return None
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            prefix, _, number = decoded.partition(":")
            if prefix != kind or not number.isdigit():
                raise ValueError(raw)
            return int(number)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(
                400,
                "The request specifies an invalid page token.",
                reason="invalidPageToken",
                location="pageToken",
                locationType="parameter",
            ) from None

    def scan(
        self, start: int, stop: int, step: int, limit: int, visible: Callable[[int], bool]
    ) -> tuple[list[int], int | None]:
        """Up to `limit` visible indices from `start` toward `stop`, and the next page's start."""
        picked: list[int] = []
        i = start
        while i != stop:
            if visible(i):
                if len(picked) == limit:
                    return picked, i
                picked.append(i)
            i += step
        return picked, None

    def newest_first(
        self, request: Request, kind: str, ds: Dataset, limit: int, visible: Callable[[int], bool]
    ) -> tuple[list[int], str | None]:
        """A page of a newest-first listing and the token of the next page, if any."""
        count = ds.count_at(self.clock.now())
        start = self.from_token(request, kind)
        start = count - 1 if start is None else min(start, count - 1)
        if not limit or start < 0:
            return [], None
        indices, following = self.scan(start, -1, -1, limit, visible)
        return indices, self.token(kind, following) if following is not None else None

    def envelope(
        self, kind: str, items: list[Body], total: int, per_page: int, next_token: str | None
    ) -> Body:
        etag = chars(mix(self.seed, self.clock.now(), len(items)), 27)
        body: Body = {"kind": kind, "etag": etag}
        if next_token:
            body["nextPageToken"] = next_token
        body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
        body["items"] = items
        return body
