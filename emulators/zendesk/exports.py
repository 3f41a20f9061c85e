"""Zendesk's incremental exports of tickets and users: cursor-based and time-based.

https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
"""

from __future__ import annotations

import base64
import binascii
import bisect
import heapq
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from emulators.core import BadRequest, Dataset, Request

# per_page of both export kinds: at most 1000 records a page (and 1000 by default).
MAX_PER_PAGE = 1000
# Anything created or changed within the last minute is left out of an export, and a
# start_time that recent is refused (Zendesk, since 2024-10-28):
# https://support.zendesk.com/hc/en-us/articles/8143500919322
FRESHNESS_LAG = 60
TOO_RECENT = "Too recent start_time. Use a start_time older than 1 minute"
# The side-loads Zendesk documents for each export, and those the emulator serves.
# https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/
DOCUMENTED_SIDELOADS = {
    "tickets": {
        "users", "groups", "organizations", "last_audits", "metric_sets", "metric_events",
        "dates", "brands", "ticket_forms", "comment_count", "slas", "custom_statuses",
        "sharing_agreements", "incident_counts",
    },
    "users": {"identities", "organizations", "groups", "roles", "abilities", "open_ticket_count"},
}  # fmt: skip
SERVED_SIDELOADS = {"tickets": ("users", "groups", "organizations"), "users": ("groups",)}
_CURSOR = re.compile(r"^(\d+)\.0\|\|(\d+)\|$")

Key = tuple[int, int]  # (change time, record index): the export's order


def encode_cursor(when: int, record_id: int) -> str:
    """Zendesk's cursor: base64 of "<generated_timestamp>.0||<id>|" of the last record sent."""
    return base64.b64encode(f"{when}.0||{record_id}|".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = _CURSOR.match(text)
    if not match:
        raise BadRequest(
            400,
            "The cursor parameter is invalid or has expired.",
            code="InvalidPaginationParameter",
        )
    return int(match.group(1)), int(match.group(2))


def per_page(request: Request) -> int:
    raw = request.arg("per_page", str(MAX_PER_PAGE)) or ""
    if not raw.lstrip("-").isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
        raise BadRequest(
            400,
            f"per_page must be an integer between 1 and {MAX_PER_PAGE}",
            code="InvalidPaginationParameter",
        )
    return int(raw)


def start_time(request: Request, now: int) -> int:
    raw = request.arg("start_time")
    if raw is None or raw == "":
        raise BadRequest(400, "start_time or cursor is required")
    if not raw.isdigit():
        raise BadRequest(400, f"start_time must be a Unix epoch time in seconds, got {raw!r}")
    if int(raw) > now - FRESHNESS_LAG:
        raise BadRequest(422, TOO_RECENT)
    return int(raw)


def sideloads(resource: str, request: Request) -> list[str]:
    """The side-loads asked for; a documented one the emulator does not build is refused
    rather than left out, so that no client silently gets less than it asked for."""
    names = [n.strip() for n in (request.arg("include") or "").split(",") if n.strip()]
    for name in names:
        if name in DOCUMENTED_SIDELOADS[resource] and name not in SERVED_SIDELOADS[resource]:
            raise BadRequest(400, f"The emulator does not serve the {name!r} side-load")
    return [n for n in names if n in SERVED_SIDELOADS[resource]]


class Exports:
    """The export endpoints of the Zendesk app (a mixin: the app owns data and builders)."""

    datasets: dict[str, Dataset]
    clock: Any
    _changed: dict[str, tuple[int, list[Key]]]
    record_index: Callable[[str, int], int]

    def _changed_keys(self, resource: str) -> list[Key]:
        """(last change time, index) of every record changed since creation, sorted."""
        ds = self.datasets[resource]
        cached = self._changed.get(resource)
        if cached is None or cached[0] != len(ds.log):
            cached = (len(ds.log), sorted((t, i) for i, t in ds.updated.items()))
            self._changed[resource] = cached
        return cached[1]

    def stream(self, resource: str, after: Key, cutoff: int) -> Iterator[Key]:
        """Keys of records after `after` up to `cutoff`, in change order.

        Untouched records are ordered by creation, which follows the index; changed ones come
        from the sorted change log. Cost grows with the page, not with the dataset.
        """
        ds = self.datasets[resource]
        changed = self._changed_keys(resource)

        def untouched() -> Iterator[Key]:
            index = max(ds.first_index_created_at_or_after(after[0]), 0)
            last = ds.count_at(cutoff)
            while index < last:
                if index not in ds.updated:
                    key = (ds.created_at(index), index)
                    if key > after:
                        yield key
                index += 1

        def touched() -> Iterator[Key]:
            pos = bisect.bisect_right(changed, after)
            while pos < len(changed) and changed[pos][0] <= cutoff:
                yield changed[pos]
                pos += 1

        return heapq.merge(untouched(), touched())

    def visible(self, resource: str, request: Request, after: Key) -> Iterator[Key]:
        """The stream as this request sees it: deleted tickets left out on request."""
        ds = self.datasets[resource]
        exclude_deleted = resource == "tickets" and request.arg("exclude_deleted") == "true"
        cutoff = self.clock.now() - FRESHNESS_LAG
        for key in self.stream(resource, after, cutoff):
            if exclude_deleted and ds.is_deleted(key[1]):
                continue
            if request.keeps(ds, key[1]):
                yield key

    def cursor_page(self, resource: str, request: Request) -> tuple[list[Key], bool, bool]:
        """(keys, more follow, resumed from a cursor) of one cursor-based export page."""
        size = per_page(request)
        cursor = request.arg("cursor")
        if cursor:
            when, record_id = decode_cursor(cursor)
            after = (when, self.record_index(resource, record_id))
        else:
            after = (start_time(request, self.clock.now()), -1)  # "on or after start_time"
        page: list[Key] = []
        for key in self.visible(resource, request, after):
            if len(page) == size:
                return page, True, bool(cursor)
            page.append(key)
        return page, False, bool(cursor)

    def time_page(self, resource: str, request: Request) -> tuple[list[Key], bool, int]:
        """(keys, more follow, end_time) of one time-based export page.

        A page holds up to per_page records and then every further one with the last
        record's timestamp; the next page starts at that timestamp, so the records that carry
        it come again: the duplicates Zendesk documents for time-based exports.
        """
        size = per_page(request)
        since = start_time(request, self.clock.now())
        page: list[Key] = []
        more = False
        for key in self.visible(resource, request, (since, -1)):
            if len(page) >= size and key[0] != page[-1][0]:
                more = True
                break
            page.append(key)
        if not page:
            return page, False, since
        end = page[-1][0]
        # A page of one timestamp must still move the next start_time on, or it would loop.
        return page, more, end if page[0][0] != end else end + 1

    def export_links(self, resource: str, request: Request, base: str, **query: str) -> str:
        """The URL of the next request of an export, keeping the caller's options."""
        kept = {name: request.arg(name) for name in ("per_page", "include", "exclude_deleted")}
        query = {**{k: v for k, v in kept.items() if v}, **query}
        return f"{base}?{urlencode(query)}"
