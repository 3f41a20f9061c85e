"""Zendesk Support's endpoints: which request goes where and what each parameter does.

Served: the incremental exports (cursor- and time-based) of tickets and users, the plain
lists of tickets and users (cursor and offset pagination), and show endpoints.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from emulators.core import BadRequest, Dataset, Request, Response, json_response
from emulators.zendesk import faults
from emulators.zendesk.data import AGENTS, GROUP_IDS, ORG_ID_BASE, USER_ID_BASE
from emulators.zendesk.exports import Key, encode_cursor, sideloads

_ROUTES = (
    (re.compile(r"^/api/v2/incremental/(tickets|users)/cursor(?:\.json)?$"), "export_cursor"),
    (re.compile(r"^/api/v2/incremental/(tickets|users)(?:\.json)?$"), "export_time"),
    (re.compile(r"^/api/v2/users/me(?:\.json)?$"), "me"),
    (re.compile(r"^/api/v2/(tickets|users)/(\d+)(?:\.json)?$"), "show"),
    (re.compile(r"^/api/v2/(tickets|users)(?:\.json)?$"), "listing"),
)
# Lists return at most 100 records a page, with either pagination.
# https://developer.zendesk.com/api-reference/introduction/pagination/
MAX_LIST_PAGE = 100
# Offset pagination past the first 10,000 records answers 400 since 2024:
# https://support.zendesk.com/hc/en-us/articles/5591904358938
OFFSET_RECORD_LIMIT = 10_000
ROLES = ("end-user", "agent", "admin")
# Both orders the emulator can serve without sorting: creation follows the id.
LIST_SORTS = {"id": False, "created_at": False, "-id": True, "-created_at": True}


class ExportLimiter:
    """The incremental exports' own rate limit: `limit` requests per `window` seconds.

    Zendesk allows 10 export requests a minute (30 with the High Volume add-on) and answers
    the next with 429 and Retry-After:
    https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#rate-limits
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def retry_after(self) -> int | None:
        """Seconds to wait before the next request is let through, or None (and counted)."""
        now = time.monotonic()
        with self._lock:
            while self._times and self._times[0] <= now - self.window:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                return None
            return max(1, math.ceil(self._times[0] + self.window - now))


def _list_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i{index}".encode()).decode().rstrip("=")


def _list_index(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not re.fullmatch(r"i\d+", text):
        raise BadRequest(
            400, "page[after] or page[before] is invalid", code="InvalidPaginationParameter"
        )
    return int(text[1:])


def _query_without(request: Request, *names: str) -> str:
    """The request's own query (filters, page size, side-loads) for its page links."""
    kept = {name: values for name, values in request.query.items() if name not in names}
    return urlencode(kept, doseq=True)


def _bounded(request: Request, name: str, default: int, top: int) -> int:
    raw = request.arg(name, str(default)) or ""
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise BadRequest(
            400, f"{name} must be an integer between 1 and {top}", code="InvalidPaginationParameter"
        )
    return int(raw)


class Routes:
    """Request handling of the Zendesk app (a mixin: the app owns data and exports)."""

    name: str
    base_url: str
    clock: Any
    datasets: dict[str, Dataset]
    builders: dict[str, Callable[[int], dict[str, Any]]]
    limiter: ExportLimiter | None
    # From the app's other parts: its records (data), its exports and VendorApp.
    record_id: Callable[[str, int], int]
    record_index: Callable[[str, int], int]
    user: Callable[[int], dict[str, Any]]
    group: Callable[[int], dict[str, Any]]
    organization: Callable[[int], dict[str, Any]]
    cursor_page: Callable[[str, Request], tuple[list[Key], bool, bool]]
    time_page: Callable[[str, Request], tuple[list[Key], bool, int]]
    export_links: Callable[..., str]
    count_served: Callable[[str, int], None]

    def route(self, request: Request) -> Response:
        try:
            for pattern, handler in _ROUTES:
                match = pattern.match(request.path)
                if match is not None and request.method == "GET":
                    return getattr(self, handler)(request, *match.groups())
            raise BadRequest(404, "Not found", code="InvalidEndpoint")
        except BadRequest as exc:
            return faults.error(exc.status, exc.message, **exc.extra)

    def ok(self, body: dict[str, Any]) -> Response:
        limit = faults.ACCOUNT_RATE_LIMIT
        return json_response(body, X_Rate_Limit=str(limit), X_Rate_Limit_Remaining=str(limit - 1))

    def public_base(self, request: Request) -> str:
        """Where the caller reached us, so next-page links lead back here (as Zendesk's do)."""
        host = request.headers.get("host")
        return f"http://{host}/{self.name}" if host else self.base_url

    def build(self, resource: str, keys: list[Key]) -> list[dict[str, Any]]:
        build = self.builders[resource]
        records = [build(index) for _, index in keys]
        self.count_served(resource, len(records))
        return records

    # --- incremental exports --------------------------------------------------------------

    def export_cursor(self, request: Request, resource: str) -> Response:
        refused = self.export_refused()
        if refused is not None:
            return refused
        keys, more, _ = self.cursor_page(resource, request)
        records = self.build(resource, keys)
        base = f"{self.public_base(request)}/api/v2/incremental/{resource}/cursor.json"
        after_cursor = after_url = None
        if keys:
            last = keys[-1]
            after_cursor = encode_cursor(last[0], self.record_id(resource, last[1]))
            after_url = self.export_links(resource, request, base, cursor=after_cursor)
        body = {
            resource: records,
            "after_url": after_url,
            "after_cursor": after_cursor,
            # The emulator pages forwards only: it offers no way back rather than a wrong one.
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": not more,
        }
        return self.ok({**body, **self.sideloaded(resource, request, records)})

    def export_time(self, request: Request, resource: str) -> Response:
        refused = self.export_refused()
        if refused is not None:
            return refused
        keys, more, end_time = self.time_page(resource, request)
        records = self.build(resource, keys)
        base = f"{self.public_base(request)}/api/v2/incremental/{resource}.json"
        body = {
            resource: records,
            "next_page": self.export_links(resource, request, base, start_time=str(end_time)),
            "count": len(records),
            "end_of_stream": not more,
            "end_time": end_time,
        }
        return self.ok({**body, **self.sideloaded(resource, request, records)})

    def export_refused(self) -> Response | None:
        wait = self.limiter.retry_after() if self.limiter else None
        if wait is None:
            return None
        return faults.rate_limited(wait, self.limiter.limit if self.limiter else 0)

    def sideloaded(
        self, resource: str, request: Request, records: list[dict[str, Any]]
    ) -> dict[str, list[dict[str, Any]]]:
        """The records a page names, for each side-load asked for (`include=users,groups`)."""
        loads: dict[str, list[dict[str, Any]]] = {}
        for name in sideloads(resource, request):
            if name == "users":
                people = ("requester_id", "submitter_id", "assignee_id")
                ids = {record[field] for record in records for field in people}
                loads[name] = [self.user(i - USER_ID_BASE) for i in sorted(ids - {None})]
            elif name == "groups":
                field = "group_id" if resource == "tickets" else "default_group_id"
                ids = {r[field] for r in records} & set(GROUP_IDS)
                loads[name] = [self.group(i) for i in sorted(ids)]
            else:
                ids = {r["organization_id"] for r in records} - {None}
                loads[name] = [self.organization(i) for i in sorted(ids) if i >= ORG_ID_BASE]
        return loads

    # --- lists and show -------------------------------------------------------------------

    def matching(self, resource: str, request: Request) -> Callable[[int], bool]:
        """Which records a list's filters keep (role for users, external_id for both)."""
        ds = self.datasets[resource]
        if request.arg("external_id") or request.arg("permission_set"):
            return lambda index: False  # no emulated record has either
        roles = request.args("role") + request.args("role[]")
        if resource == "tickets" and roles:
            raise BadRequest(400, "role is not a parameter of List Tickets")
        for role in roles:
            if role not in ROLES:
                raise BadRequest(400, f"role must be one of {', '.join(ROLES)}, got {role!r}")
        wanted = set(roles)

        def keep(index: int) -> bool:
            if ds.is_deleted(index) or not request.keeps(ds, index):
                return False
            if not wanted:
                return True
            return ("admin" if index == 0 else "agent" if index < AGENTS else "end-user") in wanted

        return keep

    def ordered(
        self, resource: str, request: Request, start: int | None, down: bool
    ) -> Iterator[int]:
        """Indices of listed records from `start` (exclusive) in id order, or reversed."""
        count = self.datasets[resource].count_at(self.clock.now())
        keep = self.matching(resource, request)
        if down:
            indices = range(count - 1 if start is None else start - 1, -1, -1)
        else:
            indices = range(0 if start is None else start + 1, count)
        return (index for index in indices if keep(index))

    def listing(self, request: Request, resource: str) -> Response:
        if request.arg("page[size]") is not None or request.arg("page[after]") is not None:
            return self.cursor_list(request, resource)
        return self.offset_list(request, resource)

    def cursor_list(self, request: Request, resource: str) -> Response:
        size = _bounded(request, "page[size]", MAX_LIST_PAGE, MAX_LIST_PAGE)
        sort = request.arg("sort", "id") or "id"
        if sort not in LIST_SORTS:
            raise BadRequest(400, f"sort must be one of {', '.join(LIST_SORTS)}, got {sort!r}")
        down = LIST_SORTS[sort]
        before = request.arg("page[before]")
        if before:
            # Backwards: the `size` records before the cursor, returned in the list's order.
            indices = self.ordered(resource, request, _list_index(before), not down)
            page = list(itertools.islice(indices, size + 1))
            more = len(page) > size
            page = list(reversed(page[:size]))
        else:
            after = request.arg("page[after]")
            indices = self.ordered(resource, request, _list_index(after) if after else None, down)
            page = list(itertools.islice(indices, size + 1))
            more = len(page) > size
            page = page[:size]
        records = self.build(resource, [(0, i) for i in page])
        kept = _query_without(request, "page[after]", "page[before]")
        base = f"{self.public_base(request)}/api/v2/{resource}.json?{kept}"
        first, last = (_list_cursor(page[0]), _list_cursor(page[-1])) if page else (None, None)
        body = {
            resource: records,
            "meta": {"has_more": more, "after_cursor": last, "before_cursor": first},
            "links": {
                "next": f"{base}&page%5Bafter%5D={last}" if last else None,
                "prev": f"{base}&page%5Bbefore%5D={first}" if first else None,
            },
        }
        return self.ok({**body, **self.sideloaded(resource, request, records)})

    def offset_list(self, request: Request, resource: str) -> Response:
        size = _bounded(request, "per_page", MAX_LIST_PAGE, MAX_LIST_PAGE)
        page = _bounded(request, "page", 1, 10**9)
        if page * size > OFFSET_RECORD_LIMIT:
            raise BadRequest(
                400,
                f"Offset pagination is limited to the first {OFFSET_RECORD_LIMIT} records; "
                "use cursor pagination (page[size]) to go further",
                code="InvalidPaginationParameter",
            )
        sort_by = request.arg("sort_by", "id") or "id"
        order = request.arg("sort_order", "asc")
        if sort_by not in ("id", "created_at") or order not in ("asc", "desc"):
            raise BadRequest(400, "sort_by must be id or created_at and sort_order asc or desc")
        indices = self.ordered(resource, request, None, order == "desc")
        window = list(itertools.islice(indices, (page - 1) * size, page * size + 1))
        records = self.build(resource, [(0, i) for i in window[:size]])
        kept = _query_without(request, "page")
        base = f"{self.public_base(request)}/api/v2/{resource}.json?{kept}"
        more = len(window) > size
        body = {
            resource: records,
            "next_page": f"{base}&page={page + 1}" if more else None,
            "previous_page": f"{base}&page={page - 1}" if page > 1 else None,
            "count": self.listed_count(resource, request),
        }
        return self.ok({**body, **self.sideloaded(resource, request, records)})

    def listed_count(self, resource: str, request: Request) -> int:
        ds = self.datasets[resource]
        filtered = any(request.arg(n) for n in ("external_id", "permission_set", "role", "role[]"))
        if not filtered and request.share >= 1.0:
            return ds.count_at(self.clock.now()) - len(ds.deleted)
        return sum(1 for _ in self.ordered(resource, request, None, False))

    def show(self, request: Request, resource: str, raw_id: str) -> Response:
        ds = self.datasets[resource]
        index = self.record_index(resource, int(raw_id))
        exists = 0 <= index < ds.count_at(self.clock.now())
        # A deleted ticket leaves the tickets endpoint; a deleted user stays, inactive.
        if not exists or (resource == "tickets" and ds.is_deleted(index)):
            raise BadRequest(404, "Not found")
        record = self.builders[resource](index)
        return self.ok({resource[:-1]: record})

    def me(self, request: Request) -> Response:
        return self.ok({"user": self.builders["users"](0)})
