"""Building blocks of the vendor emulators: clock, lazy seeded datasets, faults, responses."""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from emulators.settings import DAY, EPOCH, HISTORY_DAYS

MASK64 = (1 << 64) - 1


def mix(*parts: int) -> int:
    """A fast deterministic 64-bit hash of integers (splitmix64 over the parts)."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = (h ^ (part & MASK64)) * 0xBF58476D1CE4E5B9 & MASK64
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & MASK64
        h ^= h >> 29
    return h


def name_code(name: str) -> int:
    """A stable integer for a string (Python's hash() changes between processes)."""
    return int.from_bytes(name.encode()[:16].ljust(16, b"\0"), "big") % (1 << 61)


class Clock:
    """Emulated time in whole seconds since the Unix epoch; moves only when told to."""

    def __init__(self, start: int = EPOCH) -> None:
        self.start = start
        self._now = start

    def now(self) -> int:
        return self._now

    def set(self, when: int) -> None:
        self._now = when


@dataclass
class Mutation:
    """A change to one record at one time: an update or a deletion."""

    time: int
    index: int
    kind: str  # "updated" | "deleted"


@dataclass
class Dataset:
    """A vendor dataset whose records are computed on demand from (seed, name, index).

    Record `index` exists from `created_at(index)`. Records 0..initial-1 were created over
    the `HISTORY_DAYS` before the clock's start; later ones appear at `created_per_day`.
    Updates and deletions are drawn when the clock advances and kept as a sparse log, so
    memory grows with the number of changes, never with the number of records.
    """

    name: str
    seed: int
    start: int
    initial: int
    created_per_day: float = 0.0
    updated_per_day: float = 0.0  # share of live records updated per emulated day
    deleted_per_day: float = 0.0  # share of live records deleted per emulated day
    history_days: int = HISTORY_DAYS
    version: dict[int, int] = field(default_factory=dict)
    updated: dict[int, int] = field(default_factory=dict)
    deleted: dict[int, int] = field(default_factory=dict)
    log: list[Mutation] = field(default_factory=list)
    _log_times: list[int] = field(default_factory=list)

    # --- time and identity ---------------------------------------------------------------

    def created_at(self, index: int) -> int:
        if index < self.initial:
            span = self.history_days * DAY
            return self.start - span + (index * span) // max(self.initial, 1)
        if self.created_per_day <= 0:
            raise IndexError(index)
        return self.start + int((index - self.initial + 1) * DAY / self.created_per_day)

    def count_at(self, when: int) -> int:
        """How many records had been created by `when` (indices 0..count-1)."""
        if when < self.start:
            return self.first_index_created_after(when)
        if self.created_per_day <= 0:
            return self.initial
        new = int((when - self.start) * self.created_per_day / DAY)
        while self.created_at(self.initial + new) <= when:
            new += 1
        while new > 0 and self.created_at(self.initial + new - 1) > when:
            new -= 1
        return self.initial + new

    def first_index_created_after(self, when: int) -> int:
        """Smallest index whose creation time is > when (binary search; created_at is monotone)."""
        lo, hi = 0, self.initial
        if when >= self.start:
            return self.count_at(when)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.created_at(mid) <= when:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def first_index_created_at_or_after(self, when: int) -> int:
        return self.first_index_created_after(when - 1)

    def hash(self, index: int, salt: int = 0) -> int:
        """Deterministic randomness for one record (and one of its fields via `salt`)."""
        return mix(self.seed, name_code(self.name), index, salt)

    def rng(self, index: int) -> random.Random:
        """A seeded generator for a record's richer fields (slower than `hash`)."""
        return random.Random(self.hash(index))

    # --- state at the current time --------------------------------------------------------

    def updated_at(self, index: int) -> int:
        return self.updated.get(index) or self.created_at(index)

    def is_deleted(self, index: int) -> bool:
        return index in self.deleted

    def record_version(self, index: int) -> int:
        return self.version.get(index, 0)

    # --- change over time -----------------------------------------------------------------

    def advance(self, old: int, new: int) -> None:
        """Draw the updates and deletions that happen in (old, new]."""
        if new <= old:
            return
        live = self.count_at(old) - len(self.deleted)
        days = (new - old) / DAY
        rng = random.Random(mix(self.seed, name_code(self.name), old, new))
        n_updates = round(live * self.updated_per_day * days)
        n_deletes = round(live * self.deleted_per_day * days)
        self.apply(old, new, n_updates, n_deletes, rng)

    def apply(self, old: int, new: int, n_updates: int, n_deletes: int, rng: random.Random) -> None:
        """Record `n_updates` updates and `n_deletes` deletions of live records in (old, new]."""
        population = self.count_at(old)
        if population == 0:
            return
        changes: list[Mutation] = []
        wanted = min(n_updates + n_deletes, population - len(self.deleted))
        picked: set[int] = set()
        attempts = 0
        while len(picked) < wanted and attempts < wanted * 20 + 100:
            attempts += 1
            index = rng.randrange(population)
            if index not in self.deleted:
                picked.add(index)
        chosen = sorted(picked)
        rng.shuffle(chosen)
        for n, index in enumerate(chosen):
            kind = "deleted" if n < n_deletes else "updated"
            changes.append(Mutation(rng.randint(old + 1, new), index, kind))
        changes.sort(key=lambda m: (m.time, m.index))
        for change in changes:
            if change.kind == "deleted":
                self.deleted[change.index] = change.time
            else:
                self.version[change.index] = self.version.get(change.index, 0) + 1
            self.updated[change.index] = change.time
            self.log.append(change)
            self._log_times.append(change.time)

    def mutations_since(self, when: int) -> list[Mutation]:
        """Changes with time > when, oldest first (a record may appear more than once)."""
        return self.log[bisect.bisect_right(self._log_times, when) :]

    def changed_since(self, when: int, now: int) -> list[int]:
        """Indices of records created or changed in (when, now], ordered by updated_at then index.

        Each record appears once, at its latest change. Cost is proportional to the changes.
        """
        latest: dict[int, int] = {}
        first_new = self.first_index_created_after(when)
        last_new = self.count_at(now)
        for index in range(first_new, last_new):
            latest[index] = self.created_at(index)
        for change in self.mutations_since(when):
            if change.time <= now:
                latest[change.index] = change.time
        return sorted(latest, key=lambda i: (latest[i], i))


class Faults:
    """Per-vendor failure modes switched on and off at run time through the control API.

    Modes: outage (503), lockout (401/403 or the vendor's suspension body), rate_limit (429
    with Retry-After on every `every`-th request, or all when every=1), slow (adds `delay`
    seconds), empty (listings return no records), partial (listings return `share` of the
    records), malformed (a truncated JSON body). `count` limits how many requests it hits.
    """

    def __init__(self) -> None:
        self._modes: dict[str, dict[str, Any]] = {}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()

    def set(self, vendor: str, mode: str | None, **options: Any) -> None:
        with self._lock:
            if mode is None:
                self._modes.pop(vendor, None)
            else:
                self._modes[vendor] = {"mode": mode, **options}
            self._hits[vendor] = 0

    def active(self, vendor: str) -> dict[str, Any] | None:
        """The fault that applies to this request, if any (counts toward `count`/`every`)."""
        with self._lock:
            fault = self._modes.get(vendor)
            if fault is None:
                return None
            self._hits[vendor] = hits = self._hits.get(vendor, 0) + 1
            count = fault.get("count")
            if count is not None and hits > count:
                self._modes.pop(vendor, None)
                return None
            every = fault.get("every")
            if every and hits % every != 0:
                return None
            return fault

    def describe(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {vendor: dict(fault) for vendor, fault in self._modes.items()}


@dataclass
class Request:
    """What a vendor app sees of an HTTP request."""

    method: str
    path: str  # without the vendor prefix, e.g. "/v1/charges"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    share: float = 1.0  # below 1 when an "empty" or "partial" listing fault is on

    def keeps(self, ds: Dataset, index: int) -> bool:
        """Whether a listing shows this record (always, unless a listing fault is on)."""
        if self.share >= 1.0:
            return True
        return ds.hash(index, 7) % 1000 < self.share * 1000

    @classmethod
    def build(cls, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes):
        return cls(method, path, parse_qs(raw_query, keep_blank_values=True), headers, body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def json(self) -> Any:
        if not self.body:
            return {}
        return orjson.loads(self.body)


@dataclass
class Response:
    """A status, headers and a body already encoded as bytes."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def json_response(payload: Any, status: int = 200, **headers: str) -> Response:
    return Response(
        status, orjson.dumps(payload), {k.replace("_", "-"): v for k, v in headers.items()}
    )


class BadRequest(Exception):
    """Raised by a vendor app for a request its contract rejects; the app renders it."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


Handler = Callable[[Request], Response]


class VendorApp:
    """One vendor's API. Subclasses route requests and render errors in the vendor's format.

    A subclass sets `name` (the path prefix, e.g. "stripe") and implements `route`, plus the
    error renderers that turn faults and bad requests into the vendor's own error bodies.
    """

    name = "vendor"

    def __init__(self, clock: Clock, seed: int, scale: dict[str, int]) -> None:
        self.clock = clock
        self.seed = seed
        self.scale = scale
        self.datasets: dict[str, Dataset] = {}
        self.served: dict[str, int] = {}  # records served per dataset, for tests and benchmarks
        self._served_lock = threading.Lock()

    def dataset(self, name: str, default_initial: int, **rates: float) -> Dataset:
        initial = self.scale.get(f"{self.name}.{name}", default_initial)
        ds = Dataset(name, self.seed, self.clock.start, initial, **rates)
        self.datasets[name] = ds
        return ds

    def count_served(self, dataset: str, n: int) -> None:
        with self._served_lock:
            self.served[dataset] = self.served.get(dataset, 0) + n

    def advance(self, old: int, new: int) -> None:
        for ds in self.datasets.values():
            ds.advance(old, new)

    # Subclasses implement the following.

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        """Whether the request carries credentials in the vendor's expected form."""
        return True

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """The vendor's error body for a status (401, 403, 404, 400, 429, 503...)."""
        return json_response({"error": {"message": message, **extra}}, status)

    def lockout(self, fault: dict[str, Any]) -> Response:
        return self.error(fault.get("status", 401), "Account locked")

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        retry_after = str(fault.get("retry_after", 1))
        response = self.error(429, "Too many requests")
        response.headers["Retry-After"] = retry_after
        return response

    def outage(self, fault: dict[str, Any]) -> Response:
        return Response(
            fault.get("status", 503),
            b"<html><body><h1>503 Service Unavailable</h1></body></html>",
            content_type="text/html",
        )


def paged(items: Iterator[Any], limit: int) -> tuple[list[Any], bool]:
    """Take up to `limit` items and tell whether more follow."""
    page: list[Any] = []
    for item in items:
        if len(page) == limit:
            return page, True
        page.append(item)
    return page, False
