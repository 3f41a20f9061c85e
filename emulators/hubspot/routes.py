"""HubSpot CRM v3 object endpoints: list, read one, search; their parameters checked.

The contract: https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/guide
(companies and deals follow the same shape).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import orjson

from emulators.core import BadRequest, Clock, Dataset, Request, Response, json_response
from emulators.hubspot.data import ID_BASE, Builder
from emulators.hubspot.faults import SearchLimiter
from emulators.hubspot.search import SEARCH_RESULT_CAP, Query, int_arg
from emulators.hubspot.streams import Keep

LIST_MAX_LIMIT = 100
LIST_DEFAULT_LIMIT = 10
# Resumable search streams kept for the next page: a page costs its own size only.
CONTINUATIONS = 64
# Documented parameters whose answers this emulator does not build: refused, never ignored.
NOT_SERVED = ("propertiesWithHistory", "associations")


def bool_arg(raw: str, name: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise BadRequest(400, f"Unable to parse '{raw}' as a boolean for '{name}'", in_=name)
    return raw.lower() == "true"


def requested_properties(values: list[str]) -> list[str] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def refuse_unserved(request: Request, extra: tuple[str, ...] = ()) -> None:
    for name in (*NOT_SERVED, *extra):
        if request.args(name):
            raise BadRequest(
                400, f"'{name}' is a HubSpot parameter this emulator does not serve", in_=name
            )


class Routes:
    """Dispatch and the three endpoints of each object type."""

    name: str
    clock: Clock
    datasets: dict[str, Dataset]
    builders: dict[str, Builder]
    search_limiter: SearchLimiter
    _continuations: OrderedDict[tuple[Any, ...], tuple[Iterator[int], int | None]]
    _requests: int

    def route(self, request: Request) -> Response:
        self._requests += 1
        try:
            parts = request.path.strip("/").split("/")
            if len(parts) < 4 or parts[:3] != ["crm", "v3", "objects"]:
                raise BadRequest(404, f"No route for {request.method} {request.path}")
            kind = parts[3]
            if kind not in self.builders:
                raise BadRequest(400, f"Unable to infer object type from: {kind}")
            if len(parts) == 5 and parts[4] == "search":
                if request.method != "POST":
                    raise BadRequest(405, f"HTTP {request.method} is not supported by this URL")
                if not self.search_limiter.admit():
                    return self.rate_limited({"policy": "SECONDLY"})
                return self.search(kind, request)
            if request.method != "GET":
                raise BadRequest(405, f"HTTP {request.method} is not supported by this URL")
            if len(parts) == 4:
                response = self.list_objects(kind, request)
            elif len(parts) == 5:
                response = self.retrieve(kind, parts[4], request)
            else:
                raise BadRequest(404, f"No route for GET {request.path}")
            response.headers.update(self.limit_headers())
            return response
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    def retrieve(self, kind: str, object_id: str, request: Request) -> Response:
        refuse_unserved(request)
        if request.arg("idProperty", "hs_object_id") != "hs_object_id":
            refuse_unserved(request, ("idProperty",))
        ds = self.datasets[kind]
        archived = bool_arg(request.arg("archived", "false"), "archived")
        index = int(object_id) - ID_BASE[kind] if object_id.isdigit() else -1
        if not 0 <= index < ds.count_at(self.clock.now()) or ds.is_deleted(index) != archived:
            raise BadRequest(404, "Object not found.  objectId are usually numeric.")
        props = requested_properties(request.args("properties"))
        return json_response(self.render(kind, index, props))

    def list_objects(self, kind: str, request: Request) -> Response:
        """GET /crm/v3/objects/{type}: ascending ids, `after` is the id of the next record."""
        refuse_unserved(request)
        ds = self.datasets[kind]
        limit = int_arg(request.arg("limit", str(LIST_DEFAULT_LIMIT)), "limit")
        if not 1 <= limit <= LIST_MAX_LIMIT:
            raise BadRequest(
                400, f"limit must be between 1 and {LIST_MAX_LIMIT} (was {limit})", in_="limit"
            )
        archived = bool_arg(request.arg("archived", "false"), "archived")
        props = requested_properties(request.args("properties"))
        after = request.arg("after")
        start = max(int_arg(after, "after") - ID_BASE[kind], 0) if after else 0
        picked = self.listed(kind, ds, request, start, limit + 1, archived)
        body: dict[str, Any] = {"results": [self.render(kind, i, props) for i in picked[:limit]]}
        if len(picked) > limit:
            next_after = self.object_id(kind, picked[limit])
            host = request.headers.get("host", "api.hubapi.com")
            body["paging"] = {
                "next": {
                    "after": next_after,
                    "link": f"http://{host}/{self.name}/crm/v3/objects/{kind}?after={next_after}",
                }
            }
        self.count_served(kind, len(body["results"]))
        return json_response(body)

    def listed(
        self, kind: str, ds: Dataset, request: Request, start: int, wanted: int, archived: bool
    ) -> list[int]:
        """Up to `wanted` live (or archived) indices from `start` on, in id order."""
        picked: list[int] = []
        if archived:
            # Archived records are few (a log of deletions), so walk that sorted list.
            deleted = self.index(kind)["deleted_indices"]
            pos = bisect.bisect_left(deleted, start)
            while pos < len(deleted) and len(picked) < wanted:
                if request.keeps(ds, deleted[pos]):
                    picked.append(deleted[pos])
                pos += 1
            return picked
        count = ds.count_at(self.clock.now())
        i = start
        while i < count and len(picked) < wanted:
            if not ds.is_deleted(i) and request.keeps(ds, i):
                picked.append(i)
            i += 1
        return picked

    def search(self, kind: str, request: Request) -> Response:
        """POST /crm/v3/objects/{type}/search: `after` is the offset of the next result."""
        try:
            payload = request.json()
        except orjson.JSONDecodeError as exc:
            raise BadRequest(400, f"Invalid input JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise BadRequest(400, "Invalid input JSON: expected an object")
        query = self.parse_search(kind, payload)
        if query.offset >= SEARCH_RESULT_CAP:
            raise BadRequest(
                400,
                f"The search API returns at most {SEARCH_RESULT_CAP} results for a query; "
                f"paging past them (after={query.offset}) is not allowed. Narrow the query.",
            )
        ds = self.datasets[kind]
        keep = (lambda i: request.keeps(ds, i)) if request.share < 1.0 else None
        key = (query.signature, request.share, self.clock.now(), len(ds.log))
        stream, pending = self._resume(key, query, keep)
        # HubSpot stops at the cap even mid-page; the next page (if any) is the 400 above.
        take = min(query.limit, SEARCH_RESULT_CAP - query.offset)
        indices: list[int] = [] if pending is None else [pending]
        pending = None
        for index in stream:
            if len(indices) == take:
                pending = index
                break
            indices.append(index)
        end = query.offset + len(indices)
        body: dict[str, Any] = {
            "total": self.total(kind, query, keep, request.share),
            "results": [self.render(kind, i, query.properties) for i in indices],
        }
        if pending is not None:
            body["paging"] = {"next": {"after": str(end)}}
            self._continuations[(*key, end)] = (stream, pending)
            while len(self._continuations) > CONTINUATIONS:
                self._continuations.popitem(last=False)
        self.count_served(kind, len(indices))
        return json_response(body)

    def _resume(
        self, key: tuple[Any, ...], query: Query, keep: Keep
    ) -> tuple[Iterator[int], int | None]:
        saved = self._continuations.pop((*key, query.offset), None)
        if saved is not None:
            return saved
        stream = self.matches(query.kind, query, keep)
        for _ in range(query.offset):  # a cold start: skip without building records
            if next(stream, None) is None:
                break
        return stream, None
