"""Which records a Harvest list holds, newest first, and where a page of it starts.

Harvest sorts every list by creation date, most recent first (invoices by issue date, which
the emulator sets to the creation day, so the order is the same): ids grow with creation,
so the order is descending index order. A listing without filters is computed from the
dataset's counts and its sorted deletions, never by walking every record; a filtered one
walks the candidates (for `updated_since`, only the records changed since).
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

from emulators.core import BadRequest, Dataset


@dataclass
class Selection:
    """The records of one list request: indices in [lo, hi) that `keep` accepts.

    `changed` (descending) replaces the whole range when the request says `updated_since`;
    `keep` is None when every live record of the range is listed.
    """

    ds: Dataset
    lo: int
    hi: int
    deleted: list[int]  # the dataset's deleted indices, sorted
    keep: Callable[[int], bool] | None = None
    changed: list[int] | None = None

    @property
    def plain(self) -> bool:
        return self.keep is None and self.changed is None

    def listed(self, index: int) -> bool:
        if not self.lo <= index < self.hi or index in self.ds.deleted:
            return False
        return self.keep is None or self.keep(index)

    def deleted_between(self, lo: int, hi: int) -> int:
        return bisect.bisect_left(self.deleted, hi) - bisect.bisect_left(self.deleted, lo)

    def total(self) -> int:
        if self.plain:
            return self.hi - self.lo - self.deleted_between(self.lo, self.hi)
        return sum(1 for _ in self.below(None))

    def below(self, index: int | None) -> Iterator[int]:
        """Listed indices lower than `index` (all when None), highest first."""
        top = self.hi if index is None else min(index, self.hi)
        if self.changed is not None:
            return (i for i in self.changed if i < top and self.listed(i))
        return (i for i in range(top - 1, self.lo - 1, -1) if self.listed(i))

    def above(self, index: int) -> Iterator[int]:
        """Listed indices higher than `index`, lowest first (a previous page, read backwards)."""
        if self.changed is not None:
            return (i for i in reversed(self.changed) if i > index and self.listed(i))
        return (i for i in range(max(index + 1, self.lo), self.hi) if self.listed(i))

    def from_position(self, skip: int) -> Iterator[int]:
        """Listed indices after skipping the first `skip` of the list, highest first."""
        if not self.plain:
            items = self.below(None)
            for _ in range(skip):
                if next(items, None) is None:
                    break
            return items
        start = self.nth_from_top(skip)
        return self.below(start + 1) if start is not None else iter(())

    def nth_from_top(self, n: int) -> int | None:
        """The index of the (n+1)-th live record from the top of [lo, hi), if there is one."""
        index = self.hi - 1 - n
        while index >= self.lo:
            live = self.hi - index - self.deleted_between(index, self.hi)
            if live == n + 1:
                while index in self.ds.deleted:
                    index += 1
                return index
            index -= n + 1 - live
        return None


def encode_cursor(direction: str, record_id: int) -> str:
    """Harvest's cursor: base64 of {"after": {"id": N}}, as in its documented page links."""
    raw = orjson.dumps({direction: {"id": record_id}})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ((direction, position),) = payload.items()
        record_id = position["id"]
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
        raise BadRequest(422, "Invalid cursor") from None
    if direction not in ("after", "before") or not isinstance(record_id, int):
        raise BadRequest(422, "Invalid cursor")
    return direction, record_id
