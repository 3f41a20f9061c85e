"""Request handling of the Harvest app: the list and retrieve endpoints and `/v2/users/me`.

Lists answer with Harvest's pagination envelope (`per_page`, `total_pages`, `total_entries`,
`next_page`, `previous_page`, `page`, `links`): https://help.getharvest.com/api-v2/introduction/overview/pagination/
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from emulators.core import BadRequest, Dataset, Request, Response, json_response
from emulators.harvest import faults
from emulators.harvest.listing import Selection, decode_cursor, encode_cursor
from emulators.harvest.settings import (
    AUTH_PARAMS,
    CURSOR_PAGED,
    DEFAULT_PER_PAGE,
    FILTERS,
    INVOICE_STATES,
    MAX_PER_PAGE,
    PAGING_PARAMS,
    PUBLIC_BASE,
)
from emulators.settings import DAY

_ROUTES = (
    (re.compile(r"^/v2/users/me/?$"), "show_me"),
    (re.compile(r"^/v2/(clients|contacts|projects|invoices)/?$"), "listing"),
    (re.compile(r"^/v2/(clients|contacts|projects|invoices)/([^/]+)$"), "show"),
)


def check_params(request: Request, allowed: frozenset[str]) -> None:
    """Refuse parameters an endpoint does not document.

    Harvest does not document what it does with an unknown query parameter. A backup must
    not take "every record" for "the records the filter asked for", so the emulator refuses
    one with 422 (Harvest's status for a request it cannot process) rather than ignore it.
    """
    unknown = sorted(set(request.query) - allowed - AUTH_PARAMS)
    if unknown:
        raise BadRequest(422, f"Unknown parameter(s): {', '.join(unknown)}")


def bounded_int(request: Request, name: str, default: int, top: int) -> int:
    raw = request.arg(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise BadRequest(422, f"{name} must be an integer between 1 and {top}")
    return int(raw)


def id_param(request: Request, name: str) -> int | None:
    raw = request.arg(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(422, f"{name} must be an integer")
    return int(raw)


def bool_param(request: Request, name: str) -> bool | None:
    raw = request.arg(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise BadRequest(422, f"{name} must be true or false")
    return raw == "true"


def datetime_param(request: Request, name: str) -> int | None:
    """An ISO 8601 date and time (UTC when it names no offset), as epoch seconds."""
    raw = request.arg(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise BadRequest(422, f"{name} must be an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.ceil(moment.timestamp())


def date_param(request: Request, name: str) -> int | None:
    """A `YYYY-MM-DD` date, as the epoch second its UTC day starts."""
    raw = request.arg(name)
    if raw is None:
        return None
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(422, f"{name} must be a date (YYYY-MM-DD)") from None
    return int(datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC).timestamp())


@dataclass
class Page:
    """One page of a list: its record indices, and whether records follow and precede it."""

    indices: list[int]
    more: bool
    earlier: bool
    number: int | None = None
    total: int = 0
    total_pages: int = 0


class Routes:
    """Request handling of the Harvest app (a mixin: the app owns data and limits)."""

    name: str
    clock: Any
    datasets: dict[str, Dataset]
    builders: dict[str, Callable[[int], dict[str, Any]]]
    limiter: faults.RateLimiter | None
    record_id: Callable[[str, int], int]
    record_index: Callable[[str, int], int]
    contact_client: Callable[[int], int]
    project_client: Callable[[int], int]
    invoice_project: Callable[[int], int]
    invoice_client: Callable[[int], int]
    me: Callable[[], dict[str, Any]]
    count_served: Callable[[str, int], None]

    def route(self, request: Request) -> Response:
        try:
            throttled = self.throttled(request)
            if throttled is not None:
                return throttled
            if request.method != "GET":
                raise BadRequest(405, "The emulator serves Harvest's read endpoints only")
            for pattern, handler in _ROUTES:
                match = pattern.match(request.path)
                if match is not None:
                    return getattr(self, handler)(request, *match.groups())
            raise BadRequest(404, "Not found")
        except BadRequest as exc:
            return faults.error(exc.status, exc.message, **exc.extra)

    def throttled(self, request: Request) -> Response | None:
        if self.limiter is None:
            return None
        token, _ = faults.presented(request)
        wait = self.limiter.retry_after(token or "")
        return None if wait is None else faults.rate_limited(wait)

    def public_base(self, request: Request) -> str:
        """Where the caller reached us, so that page links lead back here."""
        host = request.headers.get("host")
        return f"http://{host}/{self.name}" if host else PUBLIC_BASE

    # --- retrieve -------------------------------------------------------------------------

    def show_me(self, request: Request) -> Response:
        check_params(request, frozenset())
        return json_response(self.me())

    def show(self, request: Request, resource: str, raw_id: str) -> Response:
        check_params(request, frozenset())
        ds = self.datasets[resource]
        index = self.record_index(resource, int(raw_id)) if raw_id.isdigit() else -1
        # Harvest has no soft delete: a deleted record is gone from lists and from here.
        if not 0 <= index < ds.count_at(self.clock.now()) or ds.is_deleted(index):
            raise BadRequest(404, "Not found")
        self.count_served(resource, 1)
        return json_response(self.builders[resource](index))

    # --- lists ----------------------------------------------------------------------------

    def filters(self, resource: str, request: Request) -> list[Callable[[int], bool]]:
        """Each documented filter of the request as a test of a record's index."""
        tests: list[Callable[[int], bool]] = []
        active = bool_param(request, "is_active") if "is_active" in FILTERS[resource] else None
        if active is not None:
            build = self.builders[resource]
            tests.append(lambda i: build(i)["is_active"] is active)
        client = id_param(request, "client_id") if "client_id" in FILTERS[resource] else None
        if client is not None:
            owner = {
                "contacts": self.contact_client,
                "projects": self.project_client,
                "invoices": self.invoice_client,
            }[resource]
            tests.append(lambda i: self.record_id("clients", owner(i)) == client)
        if resource != "invoices":
            return tests
        project = id_param(request, "project_id")
        if project is not None:
            tests.append(lambda i: self.record_id("projects", self.invoice_project(i)) == project)
        state = request.arg("state")
        if state is not None:
            if state not in INVOICE_STATES:
                raise BadRequest(422, f"state must be one of {', '.join(INVOICE_STATES)}")
            build = self.builders[resource]
            tests.append(lambda i: build(i)["state"] == state)
        return tests

    def selection(self, resource: str, request: Request) -> Selection:
        ds = self.datasets[resource]
        now = self.clock.now()
        lo, hi = 0, ds.count_at(now)
        if resource == "invoices":
            # Invoices are issued the day they are created, so from/to is a range of indices.
            start, end = date_param(request, "from"), date_param(request, "to")
            if start is not None:
                lo = ds.first_index_created_at_or_after(start)
            if end is not None:
                hi = min(hi, ds.first_index_created_at_or_after(end + DAY))
        tests = self.filters(resource, request)
        if request.share < 1.0:
            tests.append(lambda i: request.keeps(ds, i))
        since = datetime_param(request, "updated_since")
        changed = None
        if since is not None:
            changed = sorted(ds.changed_since(since - 1, now), reverse=True)
        keep = (lambda i: all(test(i) for test in tests)) if tests else None
        return Selection(ds, min(lo, hi), hi, sorted(ds.deleted), keep, changed)

    def listing(self, request: Request, resource: str) -> Response:
        paging = PAGING_PARAMS if resource in CURSOR_PAGED else PAGING_PARAMS - {"cursor"}
        check_params(request, FILTERS[resource] | paging)
        per_page = bounded_int(request, "per_page", DEFAULT_PER_PAGE[resource], MAX_PER_PAGE)
        number = bounded_int(request, "page", 1, 10**9)
        selected = self.selection(resource, request)
        cursor = request.arg("cursor") if resource in CURSOR_PAGED else None
        if cursor:
            page = self.cursor_page(resource, selected, cursor, per_page)
        else:
            skip = (number - 1) * per_page
            window = list(itertools.islice(selected.from_position(skip), per_page + 1))
            page = Page(window[:per_page], len(window) > per_page, number > 1, number)
        page.total = selected.total()
        page.total_pages = math.ceil(page.total / per_page)
        if cursor:
            # Cursor pages number only the first and the last page, as Harvest documents.
            page.number = 1 if not page.earlier else (None if page.more else page.total_pages)
        records = [self.builders[resource](index) for index in page.indices]
        self.count_served(resource, len(records))
        number_of = page.number
        return json_response(
            {
                resource: records,
                "per_page": per_page,
                "total_pages": page.total_pages,
                "total_entries": page.total,
                "next_page": number_of + 1 if number_of is not None and page.more else None,
                "previous_page": number_of - 1 if number_of is not None and number_of > 1 else None,
                "page": number_of,
                "links": self.links(request, resource, per_page, page),
            }
        )

    def cursor_page(self, resource: str, selected: Selection, cursor: str, per_page: int) -> Page:
        """The page a cursor names: after a record (next) or before one (previous)."""
        direction, record_id = decode_cursor(cursor)
        pivot = self.record_index(resource, record_id)
        if direction == "after":
            window = list(itertools.islice(selected.below(pivot), per_page + 1))
            earlier = next(selected.above(pivot - 1), None) is not None
            return Page(window[:per_page], len(window) > per_page, earlier)
        window = list(itertools.islice(selected.above(pivot), per_page + 1))
        more = next(selected.below(pivot + 1), None) is not None
        return Page(list(reversed(window[:per_page])), more, len(window) > per_page)

    def links(
        self, request: Request, resource: str, per_page: int, page: Page
    ) -> dict[str, str | None]:
        """Absolute page links that keep the request's filters (and query credentials)."""
        kept = [
            (name, value)
            for name, values in request.query.items()
            if name not in PAGING_PARAMS
            for value in values
        ]
        base = f"{self.public_base(request)}/v2/{resource}?"

        def numbered(number: int, ref: str | None = None) -> str:
            refs = [("ref", ref)] if ref else []
            return base + urlencode([*kept, ("page", number), ("per_page", per_page), *refs])

        def cursored(direction: str, index: int, ref: str) -> str:
            token = encode_cursor(direction, self.record_id(resource, index))
            params = [("cursor", token), ("per_page", per_page), ("ref", ref)]
            return base + urlencode([*kept, *params])

        next_link = previous_link = None
        current = page.number or 1
        if resource not in CURSOR_PAGED:
            next_link = numbered(current + 1) if page.more else None
            previous_link = numbered(current - 1) if page.earlier else None
        else:
            if page.more and page.indices:
                next_link = cursored("after", page.indices[-1], "next_cursor")
            if page.earlier and page.indices:
                previous_link = cursored("before", page.indices[0], "prev_cursor")
            elif page.earlier:
                previous_link = numbered(max(current - 1, 1))
        return {
            "first": numbered(1, "first"),
            "next": next_link,
            "previous": previous_link,
            "last": numbered(max(page.total_pages, 1), "last"),
        }
