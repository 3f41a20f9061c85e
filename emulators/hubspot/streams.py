"""The records a search matches, in its order, read lazily from sparse indexes of changes."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator
from typing import Any

from emulators.core import Clock, Dataset
from emulators.hubspot.data import Builder
from emulators.hubspot.search import NEG_INF, POS_INF, Query, typed

Keep = Callable[[int], bool] | None


class Streams:
    """Matching records by change time, by id, or by any property (the last one scans)."""

    clock: Clock
    datasets: dict[str, Dataset]
    builders: dict[str, Builder]
    _indexes: dict[str, tuple[int, dict[str, list[Any]]]]

    def index(self, kind: str) -> dict[str, list[Any]]:
        """Sorted views of what changed, rebuilt only when the change log grows."""
        ds = self.datasets[kind]
        cached = self._indexes.get(kind)
        if cached is None or cached[0] != len(ds.log):
            live = [(t, i) for i, t in ds.updated.items() if i not in ds.deleted]
            cached = (
                len(ds.log),
                {
                    "live_keys": sorted(live),
                    "live_indices": sorted(i for _, i in live),
                    "changed_indices": sorted(ds.updated),
                    "deleted_indices": sorted(ds.deleted),
                },
            )
            self._indexes[kind] = cached
        return cached[1]

    def matches(self, kind: str, query: Query, keep: Keep) -> Iterator[int]:
        """Indices of live records matching the query, in the query's order, lazily."""
        groups = [g for g in query.groups if not g.empty]
        if not groups:
            return iter(())
        ds = self.datasets[kind]
        time_lo = min(g.time_lo for g in groups)
        time_hi = max(g.time_hi for g in groups)
        index_lo = min(g.index_lo for g in groups)
        index_hi = max(g.index_hi for g in groups)
        by_time = query.sort == "time"
        if by_time:
            candidates = self.by_time(kind, time_lo, time_hi, index_lo, index_hi, query.descending)
        else:
            descending = query.descending and query.sort == "index"
            candidates = self.by_index(kind, index_lo, index_hi, descending)
        # One group of date and id ranges only: a time-ordered stream needs no further check.
        streamed = by_time and len(groups) == 1 and not groups[0].checks

        def accepted(i: int) -> bool:
            if keep is not None and not keep(i):
                return False
            if streamed:
                return True
            updated = ds.updated_at(i)
            return any(
                g.time_lo <= updated <= g.time_hi
                and g.index_lo <= i < g.index_hi
                and all(check(i) for check in g.checks)
                for g in groups
            )

        found = (i for i in candidates if accepted(i))
        if query.sort in ("time", "index"):
            return found
        return iter(self.sorted_by(kind, query.sort, query.descending, found))

    def sorted_by(self, kind: str, name: str, descending: bool, found: Iterator[int]) -> list[int]:
        """Any other sort reads every match first; records without the property come last."""
        build = self.builders[kind]
        keyed = [(typed(name, build(i).get(name)), i) for i in found]
        present = sorted((k for k in keyed if k[0] is not None), reverse=descending)
        return [i for _, i in present] + sorted(i for v, i in keyed if v is None)

    def by_time(
        self, kind: str, lo: int, hi: int, index_lo: int, index_hi: int, descending: bool
    ) -> Iterator[int]:
        """Live records with lo <= last change <= hi, ordered by (change time, id).

        Records never changed after creation follow index order (creation is monotone); the
        changed ones come from a sparse sorted list. Merging the two costs only what is read.
        """
        ds = self.datasets[kind]
        now = self.clock.now()
        changed = ds.updated
        keys: list[tuple[int, int]] = self.index(kind)["live_keys"]
        first = max(ds.first_index_created_at_or_after(lo) if lo > NEG_INF else 0, index_lo)
        last = min(ds.count_at(min(hi, now)), index_hi, ds.count_at(now))  # exclusive
        start = bisect.bisect_left(keys, (lo, -1))
        stop = bisect.bisect_right(keys, (hi, POS_INF))

        def unchanged() -> Iterator[tuple[int, int]]:
            span = range(last - 1, first - 1, -1) if descending else range(first, last)
            for i in span:
                if i not in changed:
                    yield ds.created_at(i), i

        def modified() -> Iterator[tuple[int, int]]:
            span = range(stop - 1, start - 1, -1) if descending else range(start, stop)
            for pos in span:
                key = keys[pos]
                if index_lo <= key[1] < index_hi:
                    yield key

        for _, i in heapq.merge(unchanged(), modified(), reverse=descending):
            yield i

    def by_index(self, kind: str, index_lo: int, index_hi: int, descending: bool) -> Iterator[int]:
        ds = self.datasets[kind]
        last = min(index_hi, ds.count_at(self.clock.now()))
        span = range(last - 1, index_lo - 1, -1) if descending else range(index_lo, last)
        for i in span:
            if not ds.is_deleted(i):
                yield i

    def total(self, kind: str, query: Query, keep: Keep, share: float) -> int:
        """How many records match; counted from the sparse indexes when the query allows."""
        groups = [g for g in query.groups if not g.empty]
        if not groups:
            return 0
        if len(groups) > 1 or groups[0].checks:
            return sum(1 for _ in self.matches(kind, query, keep))
        g = groups[0]
        ds = self.datasets[kind]
        now = self.clock.now()
        idx = self.index(kind)
        first = max(
            ds.first_index_created_at_or_after(g.time_lo) if g.time_lo > NEG_INF else 0, g.index_lo
        )
        last = min(ds.count_at(min(g.time_hi, now)), g.index_hi, ds.count_at(now))
        count = 0
        if last > first:
            changed = idx["changed_indices"]
            count = (last - first) - (
                bisect.bisect_left(changed, last) - bisect.bisect_left(changed, first)
            )
        if g.time_bounded:
            keys = idx["live_keys"]
            start = bisect.bisect_left(keys, (g.time_lo, -1))
            stop = bisect.bisect_right(keys, (g.time_hi, POS_INF))
            count += sum(1 for pos in range(start, stop) if g.index_lo <= keys[pos][1] < g.index_hi)
        else:
            live = idx["live_indices"]
            count += bisect.bisect_left(live, g.index_hi) - bisect.bisect_left(live, g.index_lo)
        return round(count * share) if share < 1.0 else count
