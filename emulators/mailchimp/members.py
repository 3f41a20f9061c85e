"""One list's members that match a listing's filters, in order, without materializing them."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from emulators.mailchimp.data import Data, between


@dataclass(frozen=True)
class MemberFilter:
    """The index-friendly filters of a member listing (each bound exclusive, as Mailchimp's)."""

    statuses: tuple[str, ...]
    since: int | None = None  # last_changed after
    before: int | None = None  # last_changed before
    opt_since: int | None = None  # timestamp_opt after
    opt_before: int | None = None  # timestamp_opt before
    by_time: bool = False  # order by (last_changed, index) instead of sign-up


class MemberView:
    """One list's members that match a `MemberFilter`, in order.

    Order is by sign-up (position) or, with `by_time`, by (last_changed, index). Either way
    `total` and a start at any offset cost O(log n · log changes), and each record after it O(1).
    A member's `timestamp_opt` is its sign-up time, so an opt-in window is a range of positions.
    """

    def __init__(self, app: Data, list_no: int, where: MemberFilter) -> None:
        self.app = app
        self.list_no = list_no
        self.statuses = where.statuses
        self.by_time = where.by_time
        self.changes = app.list_changes(list_no)
        size = app.list_size(list_no)
        lo = self._position_after(where.opt_since, size, at_or_after=False)
        self.stop = self._position_after(where.opt_before, size, at_or_after=True)
        if where.opt_before is None:
            self.stop = size
        self.first_new = max(lo, self._position_after(where.since, size, at_or_after=False))
        # Unchanged members (last_changed = sign-up) stop at the first one created at `before`.
        self.end = self.stop
        if where.before is not None:
            self.end = min(self.stop, self._position_after(where.before, size, at_or_after=True))
        self.first_new = min(self.first_new, self.stop)
        self.explicit = self._changed_in_window(where, lo)

    def _position_after(self, when: int | None, size: int, at_or_after: bool) -> int:
        """The first position created after `when` (or at it, with `at_or_after`)."""
        if when is None:
            return 0
        ds, n = self.app.members, self.app.n_lists
        if at_or_after:
            first = ds.first_index_created_at_or_after(when)
        else:
            first = ds.first_index_created_after(when)
        return min(max(0, (first - self.list_no + n - 1) // n), size)

    def _changed_in_window(self, where: MemberFilter, lo: int) -> list[tuple[int, int]]:
        """Changed members inside the windows, by time of change or by position."""
        n = self.app.n_lists
        wanted = set(where.statuses)
        changed = [
            (when, index)
            for when, index in self.changes.by_time
            if (where.since is None or when > where.since)
            and (where.before is None or when < where.before)
            and lo <= index // n < self.stop
            and self.app.member_status(index, index // n) in wanted
        ]
        if self.by_time:
            return changed
        return sorted((index // n, index) for _, index in changed if index // n < self.first_new)

    def _status(self, position: int) -> str:
        return self.app.member_status(self.app.member_index(self.list_no, position), position)

    def _unchanged_count(self, lo: int, hi: int) -> int:
        """Never-changed positions in [lo, hi) whose status is in the set (they keep their base)."""
        if hi <= lo:
            return 0
        total = 0
        for status in self.statuses:
            total += self.app.base_count(status, lo, hi)
            total -= between(self.changes.by_base[status], lo, hi)
        return total

    def _current_count(self, lo: int, hi: int) -> int:
        return self.app.current_count(self.list_no, self.statuses, lo, hi)

    def total(self) -> int:
        if self.by_time:
            return len(self.explicit) + self._unchanged_count(self.first_new, self.end)
        return len(self.explicit) + self._current_count(self.first_new, self.stop)

    def _seek(self, rank: int, count_in: Callable[[int, int], int], end: int) -> int:
        """Smallest position p in [first_new, end) with count_in(first_new, p + 1) > rank."""
        lo, hi = self.first_new, end
        while lo < hi:
            mid = (lo + hi) // 2
            if count_in(self.first_new, mid + 1) > rank:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def iterate(self, offset: int) -> Iterator[int]:
        """Member indices from rank `offset` on."""
        if self.by_time:
            yield from self._iterate_by_time(offset)
            return
        n_explicit = len(self.explicit)
        for _, index in self.explicit[offset:]:
            yield index
        position = self._seek(max(offset - n_explicit, 0), self._current_count, self.stop)
        wanted = set(self.statuses)
        changed = self.changes.positions
        for p in range(position, self.stop):
            index = self.app.member_index(self.list_no, p)
            # Unchanged members keep their sign-up status: no need to replay versions.
            status = self._status(p) if _contains(changed, p) else self.app.base_status(p)
            if status in wanted:
                yield index

    def _unchanged_key(self, position: int) -> tuple[int, int]:
        index = self.app.member_index(self.list_no, position)
        return self.app.members.created_at(index), index

    def _unchanged_from(self, position: int) -> Iterator[tuple[int, int]]:
        wanted = set(self.statuses)
        changed = self.changes.positions
        for q in range(position, self.end):
            if not _contains(changed, q) and self.app.base_status(q) in wanted:
                yield self._unchanged_key(q)

    def _split(self, offset: int, unchanged_total: int) -> int:
        """How many of the first `offset` members come from the changed ones (k-th of two)."""
        explicit = self.explicit
        lo, hi = max(0, offset - unchanged_total), min(offset, len(explicit))
        while lo < hi:
            i = (lo + hi) // 2
            j = offset - i
            # If explicit[i] sorts before the j-1-th unchanged member, take more explicit ones.
            if j > 0 and explicit[i] < self._unchanged_key(
                self._seek(j - 1, self._unchanged_count, self.end)
            ):
                lo = i + 1
            else:
                hi = i
        return lo

    def _iterate_by_time(self, offset: int) -> Iterator[int]:
        explicit = self.explicit
        unchanged_total = self._unchanged_count(self.first_new, self.end)
        i = self._split(offset, unchanged_total)
        j = offset - i
        position = (
            self._seek(j, self._unchanged_count, self.end) if j < unchanged_total else self.end
        )
        stream = self._unchanged_from(position)
        pending = next(stream, None)
        while True:
            if i < len(explicit) and (pending is None or explicit[i] < pending):
                yield explicit[i][1]
                i += 1
            elif pending is not None:
                yield pending[1]
                pending = next(stream, None)
            else:
                return


def _contains(values: list[int], value: int) -> bool:
    pos = bisect.bisect_left(values, value)
    return pos < len(values) and values[pos] == value


def take(items: Iterator[int], n: int) -> Iterator[int]:
    """The first `n` items."""
    for k, item in enumerate(items):
        if k >= n:
            return
        yield item
