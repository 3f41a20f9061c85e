"""Mailchimp's seeded data: audiences, members and campaigns, computed on demand from a hash.

Members are never held in memory: each list's sign-up statuses follow a fixed mix per block
of 20, so counts by status are closed-form and any offset is found in O(log n); only the
sparse log of changes is indexed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulators.core import BadRequest, Dataset, VendorApp, mix
from emulators.settings import DAY

MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
ARCHIVED = "archived"
ALL_STATUSES = (*MEMBER_STATUSES, ARCHIVED)
# Every block of 20 members holds this mix of statuses (a typical audience), in an order
# drawn per block, so counts by status are closed-form and offset paging stays O(log n).
BLOCK = (
    ("subscribed",) * 14 + ("unsubscribed",) * 2 + ("cleaned", "pending") + ("transactional",) * 2
)
STEPS = (1, 3, 7, 9, 11, 13, 17, 19)  # multipliers coprime with 20: each gives a permutation
# Share of members who are also Stripe customers (same email), per 10.
CUSTOMER_SHARE = 6
CAMPAIGN_STATUSES = ("save", "paused", "schedule", "sending", "sent")
CAMPAIGN_TYPES = ("regular", "plaintext", "absplit", "rss", "variate")
# Documented campaign statuses a listing may be filtered by (list-campaigns' `status`).
CAMPAIGN_FILTER_STATUSES = (*CAMPAIGN_STATUSES, "canceled", "canceling", "archived")
CAMPAIGN_SORT_FIELDS = ("create_time", "send_time")
# A campaign is sent between one hour and three days after it is created, or never (drafts).
MAX_SEND_DELAY = 3 * DAY
TAGS = ("customer", "newsletter", "vip", "webinar", "black-friday", "wholesale", "lead")
CITIES = (
    ("Lyon", "FR", "Europe/Paris", 45.76, 4.83),
    ("Austin", "US", "America/Chicago", 30.27, -97.74),
    ("Leeds", "GB", "Europe/London", 53.8, -1.55),
    ("Osaka", "JP", "Asia/Tokyo", 34.69, 135.5),
)
LIST_NAMES = ("Newsletter", "Customers", "Product updates", "Events", "Wholesale partners")
SUBJECTS = (
    "Spring collection is here",
    "Your monthly update",
    "Last chance: 20% off",
    "We are hiring",
    "New in store this week",
    "Thank you for being a customer",
)


def iso(ts: int | None) -> str:
    """Mailchimp's timestamp form: ISO 8601 with an explicit +00:00 offset, or "" when unset."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_iso(raw: str) -> int:
    value = datetime.fromisoformat(raw.replace(" ", "+"))  # '+' arrives as ' ' when unencoded
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _prefix_tables() -> dict[tuple[int, int], dict[str, list[int]]]:
    """Per (step, rotation) permutation of a block: per status, counts over its first r slots."""
    tables: dict[tuple[int, int], dict[str, list[int]]] = {}
    for step in STEPS:
        for rot in range(len(BLOCK)):
            counts = {s: [0] for s in MEMBER_STATUSES}
            for j in range(len(BLOCK)):
                slot = BLOCK[(step * j + rot) % len(BLOCK)]
                for s in MEMBER_STATUSES:
                    counts[s].append(counts[s][-1] + (slot == s))
            tables[(step, rot)] = counts
    return tables


PREFIX = _prefix_tables()
PER_BLOCK = {s: BLOCK.count(s) for s in MEMBER_STATUSES}


@dataclass
class ListChanges:
    """The changed members of one list, indexed so status counts stay O(log n)."""

    positions: list[int] = field(default_factory=list)  # every changed position, sorted
    by_base: dict[str, list[int]] = field(default_factory=dict)  # changed positions per base status
    by_current: dict[str, list[int]] = field(default_factory=dict)  # ... per current status
    by_time: list[tuple[int, int]] = field(default_factory=list)  # (last_changed, index), sorted


def between(values: list[int], lo: int, hi: int) -> int:
    """How many of the sorted `values` lie in [lo, hi)."""
    return bisect.bisect_left(values, hi) - bisect.bisect_left(values, lo)


class Data(VendorApp):
    """The account's datasets and the arithmetic that finds records in them."""

    name = "mailchimp"

    def setup(self) -> None:
        super().setup()
        # Audiences are few and long-lived; their settings change now and then.
        self.lists = self.dataset("lists", 3, updated_per_day=0.05)
        # Member `index` belongs to list `index % n_lists`, at position `index // n_lists`.
        # Deleting a member archives it (status "archived"), as Mailchimp's DELETE does.
        self.members = self.dataset(
            "members", 600, created_per_day=6, updated_per_day=0.01, deleted_per_day=0.002
        )
        # Campaigns are drafted, scheduled, sent (time does that) and edited; drafts get deleted.
        self.campaigns = self.dataset(
            "campaigns", 60, created_per_day=0.3, updated_per_day=0.02, deleted_per_day=0.001
        )
        # A handle on Stripe's customers, so members share emails with paying customers.
        self.stripe_customers = Dataset("customers", self.seed, self.clock.start, 0)
        self._changes: dict[int, ListChanges] = {}
        self._changes_key: tuple[int, int] | None = None

    # --- ids and small helpers -------------------------------------------------------------

    @property
    def n_lists(self) -> int:
        return self.lists.initial

    def list_id(self, index: int) -> str:
        return f"{self.lists.hash(index, 2):016x}"[:10]

    def list_index(self, list_id: str) -> int:
        for index in range(self.n_lists):
            if self.list_id(index) == list_id:
                return index
        raise BadRequest(
            404, "The requested resource could not be found.", title="Resource Not Found"
        )

    def list_created(self, index: int) -> int:
        """Audiences predate their members: the oldest member of any list is a year old."""
        ds = self.lists
        return ds.start - (ds.history_days + 30 * (self.n_lists - index)) * DAY

    def campaign_id(self, index: int) -> str:
        return f"{self.campaigns.hash(index, 2):016x}"[:10]

    def _web_id(self, ds: Dataset, index: int) -> int:
        return 100_000 + ds.hash(index, 5) % 900_000_000

    # --- members: status arithmetic ----------------------------------------------------------

    def list_size(self, list_no: int, when: int | None = None) -> int:
        """How many members list `list_no` had created by `when` (positions 0..size-1)."""
        total = self.members.count_at(self.clock.now() if when is None else when)
        if total <= list_no:
            return 0
        return (total - list_no + self.n_lists - 1) // self.n_lists

    def member_index(self, list_no: int, position: int) -> int:
        return list_no + position * self.n_lists

    def _block_shape(self, block: int) -> tuple[int, int]:
        h = mix(self.seed, block, 0x6D63)
        return STEPS[h % len(STEPS)], (h >> 8) % len(BLOCK)

    def base_status(self, position: int) -> str:
        block, j = divmod(position, len(BLOCK))
        step, rot = self._block_shape(block)
        return BLOCK[(step * j + rot) % len(BLOCK)]

    def base_count(self, status: str, lo: int, hi: int) -> int:
        """Positions in [lo, hi) whose status at sign-up was `status` (O(1))."""
        if status == ARCHIVED or hi <= lo:
            return 0
        return self._base_prefix(status, hi) - self._base_prefix(status, lo)

    def _base_prefix(self, status: str, p: int) -> int:
        block, r = divmod(p, len(BLOCK))
        return block * PER_BLOCK[status] + PREFIX[self._block_shape(block)][status][r]

    def member_status(self, index: int, position: int) -> str:
        ds = self.members
        if ds.is_deleted(index):
            return ARCHIVED
        status = self.base_status(position)
        # Most updates edit a profile; one in four also changes the subscription.
        for version in range(1, ds.record_version(index) + 1):
            if ds.hash(index, 10 + version) % 4 == 0:
                status = {
                    "subscribed": "unsubscribed",
                    "unsubscribed": "subscribed",
                    "pending": "subscribed",
                    "transactional": "subscribed",
                }.get(status, status)
        return status

    def list_changes(self, list_no: int) -> ListChanges:
        """Changed members of a list, rebuilt only when the clock has drawn new changes."""
        key = (len(self.members.log), self.n_lists)
        if self._changes_key != key:
            self._changes = {}
            self._changes_key = key
        cached = self._changes.get(list_no)
        if cached is not None:
            return cached
        ds = self.members
        changes = ListChanges(
            by_base={s: [] for s in ALL_STATUSES}, by_current={s: [] for s in ALL_STATUSES}
        )
        for index, when in ds.updated.items():
            if index % self.n_lists != list_no:
                continue
            position = index // self.n_lists
            changes.positions.append(position)
            changes.by_base[self.base_status(position)].append(position)
            changes.by_current[self.member_status(index, position)].append(position)
            changes.by_time.append((when, index))
        changes.positions.sort()
        for values in (*changes.by_base.values(), *changes.by_current.values()):
            values.sort()
        changes.by_time.sort()
        self._changes[list_no] = changes
        return changes

    def current_count(self, list_no: int, statuses: tuple[str, ...], lo: int, hi: int) -> int:
        """Positions in [lo, hi) whose current status is one of `statuses` (O(log changes))."""
        if hi <= lo:
            return 0
        changes = self.list_changes(list_no)
        total = 0
        for status in statuses:
            total += self.base_count(status, lo, hi)
            total -= between(changes.by_base[status], lo, hi)
            total += between(changes.by_current[status], lo, hi)
        return total

    # --- objects ------------------------------------------------------------------------------

    # --- campaigns: when they go out -----------------------------------------------------------

    def send_time(self, index: int) -> int | None:
        """When a campaign goes out (it may be in the future), or None for a lasting draft."""
        h = self.campaigns.hash(index, 3)
        if h % 10 == 0:
            return None
        return self.campaigns.created_at(index) + 3600 + h % (MAX_SEND_DELAY - 3600)

    def campaign_status(self, index: int) -> str:
        sent_at = self.send_time(index)
        if sent_at is None:
            return "paused" if self.campaigns.hash(index, 3) % 20 == 10 else "save"
        return "sent" if sent_at <= self.clock.now() else "schedule"

    def campaign_list(self, index: int) -> int:
        """The audience a campaign goes to."""
        return index % max(self.n_lists, 1)

    def last_sent(self, list_no: int) -> int | None:
        """When the newest campaign to a list went out (campaigns number in the hundreds)."""
        ds, now = self.campaigns, self.clock.now()
        newest = None
        for index in range(list_no, ds.count_at(now), max(self.n_lists, 1)):
            sent_at = self.send_time(index)
            if not ds.is_deleted(index) and sent_at is not None and sent_at <= now:
                newest = sent_at if newest is None else max(newest, sent_at)
        return newest
