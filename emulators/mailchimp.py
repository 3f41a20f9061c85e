"""Mailchimp Marketing API 3.0: lists, list members and campaigns, count/offset, problem+json."""

from __future__ import annotations

import base64
import bisect
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from emulators.core import BadRequest, Clock, Dataset, Request, Response, VendorApp, mix
from emulators.names import FIRST_NAMES, LAST_NAMES, person
from emulators.settings import DAY

API_PREFIX = "/3.0"
ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
DEFAULT_COUNT = 10
MAX_COUNT = 1000
PROBLEM_JSON = "application/problem+json; charset=utf-8"
RESPONSE_JSON = "application/json; charset=utf-8"
# An API key is 32 hex digits, a dash and the data center that serves the account.
API_KEY = re.compile(r"^[0-9a-f]{32}-(?P<dc>[a-z]+[0-9]+)$")
OAUTH_TOKEN = re.compile(r"^[0-9a-f]{32}$")

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
MEMBER_SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
CAMPAIGN_STATUSES = ("save", "paused", "schedule", "sending", "sent")
CAMPAIGN_TYPES = ("regular", "plaintext", "absplit", "rss", "variate")
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


def _between(values: list[int], lo: int, hi: int) -> int:
    return bisect.bisect_left(values, hi) - bisect.bisect_left(values, lo)


class App(VendorApp):
    name = "mailchimp"

    def __init__(self, clock: Clock, seed: int, scale: dict[str, int], credentials=None) -> None:
        super().__init__(clock, seed, scale, credentials)
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
        self.stripe_customers = Dataset("customers", seed, clock.start, 0)
        self._changes: dict[int, ListChanges] = {}
        self._changes_key: tuple[int, int] | None = None
        self._requests = 0

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
            total -= _between(changes.by_base[status], lo, hi)
            total += _between(changes.by_current[status], lo, hi)
        return total

    # --- objects ------------------------------------------------------------------------------

    def member_email(self, index: int, position: int) -> tuple[str, str, str]:
        """(first name, last name, email): most members are Stripe customers, by position."""
        h = self.members.hash(index, 1)
        if h % 10 < CUSTOMER_SHARE:
            name, email, _ = person(self.stripe_customers, position)
            first, _, last = name.partition(" ")
            return first, last, email
        first = FIRST_NAMES[(h >> 8) % len(FIRST_NAMES)]
        last = LAST_NAMES[(h >> 16) % len(LAST_NAMES)]
        local = f"{first}.{last}".lower().replace("'", "")
        local = local.encode("ascii", "ignore").decode()
        return first, last, f"{local}.{index}@example.net"

    def member(self, index: int, list_no: int, position: int) -> dict[str, Any]:
        ds = self.members
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        first, last, email = self.member_email(index, position)
        subscriber_hash = hashlib.md5(email.lower().encode()).hexdigest()
        status = self.member_status(index, position)
        created = ds.created_at(index)
        city, country, tz, lat, lon = CITIES[h % len(CITIES)]
        tags = sorted(
            {TAGS[(h >> (4 * k)) % len(TAGS)] for k in range(h % 3)}
            | ({"customer"} if "@example.com" in email else set())
        )
        list_id = self.list_id(list_no)
        return {
            "id": subscriber_hash,
            "email_address": email,
            "unique_email_id": f"{ds.hash(index, 6):016x}"[:10],
            "contact_id": f"{ds.hash(index, 7):032x}"[:32],
            "full_name": f"{first} {last}",
            "web_id": self._web_id(ds, index),
            "email_type": "html" if h % 7 else "text",
            "status": status,
            "unsubscribe_reason": "N/A (Unsubscribed by admin)" if status == "unsubscribed" else "",
            "consents_to_one_to_one_messaging": True,
            "merge_fields": {
                "FNAME": first,
                "LNAME": last,
                "ADDRESS": {
                    "addr1": f"{h % 900 + 1} Main St",
                    "addr2": "",
                    "city": city,
                    "state": "",
                    "zip": f"{h % 90000 + 10000}",
                    "country": country,
                },
                "PHONE": f"+1555{(h >> 16) % 10_000_000:07d}" if h % 3 else "",
                "BIRTHDAY": f"{(h >> 24) % 12 + 1:02d}/{(h >> 28) % 28 + 1:02d}",
            },
            "interests": {},
            "stats": {
                "avg_open_rate": round((h % 1000) / 1000 * (1 + version % 2) / 2, 2),
                "avg_click_rate": round((h >> 10) % 300 / 1000, 2),
            },
            "ip_signup": "" if h % 4 else f"203.0.113.{h % 250 + 1}",
            "timestamp_signup": "" if h % 4 else iso(created),
            "ip_opt": f"198.51.100.{(h >> 4) % 250 + 1}",
            "timestamp_opt": iso(created),
            "member_rating": 1 + (h + version) % 5,
            "last_changed": iso(ds.updated_at(index)),
            "language": ["en", "fr", "de", "ja", ""][h % 5],
            "vip": h % 50 == 0,
            "email_client": ["Gmail", "Apple Mail", "Outlook", ""][(h >> 3) % 4],
            "location": {
                "latitude": lat,
                "longitude": lon,
                "gmtoff": 0,
                "dstoff": 0,
                "country_code": country,
                "timezone": tz,
                "region": "",
            },
            "marketing_permissions": [],
            "last_note": None,
            "source": ["API - Generic", "Hosted Signup Form", "Import", "Admin Add"][h % 4],
            "tags_count": len(tags),
            "tags": [{"id": 10_000 + TAGS.index(t), "name": t} for t in tags],
            "list_id": list_id,
            "_links": self._links(f"/lists/{list_id}/members/{subscriber_hash}", "Lists/Members"),
        }

    def audience(self, index: int) -> dict[str, Any]:
        ds = self.lists
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        list_id = self.list_id(index)
        # Audiences predate their members: the oldest member of any list is a year old.
        created = ds.start - (ds.history_days + 30 * (self.n_lists - index)) * DAY
        size = self.list_size(index)
        subscribed = self.current_count(index, ("subscribed",), 0, size)
        unsubscribed = self.current_count(index, ("unsubscribed",), 0, size)
        cleaned = self.current_count(index, ("cleaned",), 0, size)
        last_member = self.member_index(index, size - 1) if size else None
        city, country, _, _, _ = CITIES[h % len(CITIES)]
        name = LIST_NAMES[index % len(LIST_NAMES)] + (
            f" {index // len(LIST_NAMES) + 1}" if index >= len(LIST_NAMES) else ""
        )
        return {
            "id": list_id,
            "web_id": self._web_id(ds, index),
            "name": name,
            "contact": {
                "company": "Lifeboat Demo Shop",
                "address1": f"{h % 900 + 1} Main St",
                "address2": "",
                "city": city,
                "state": "",
                "zip": f"{h % 90000 + 10000}",
                "country": country,
                "phone": "",
            },
            "permission_reminder": "You are receiving this email because you opted in via our "
            "website.",
            "use_archive_bar": True,
            "campaign_defaults": {
                "from_name": "Lifeboat Demo Shop",
                "from_email": "hello@example.com",
                "subject": "" if version % 2 == 0 else "News from the shop",
                "language": "en",
            },
            "notify_on_subscribe": "",
            "notify_on_unsubscribe": "",
            "date_created": iso(created),
            "list_rating": (h + version) % 6,
            "email_type_option": bool(version % 2),
            "subscribe_url_short": f"http://eepurl.com/{list_id[:6]}",
            "subscribe_url_long": f"https://demo.us6.list-manage.com/subscribe?u=0&id={list_id}",
            "beamer_address": f"us6-{list_id}@inbound.mailchimp.com",
            "visibility": "prv",
            "double_optin": h % 2 == 0,
            "has_welcome": False,
            "marketing_permissions": False,
            "modules": [],
            "stats": {
                "member_count": subscribed,
                "unsubscribe_count": unsubscribed,
                "cleaned_count": cleaned,
                "member_count_since_send": subscribed % 97,
                "unsubscribe_count_since_send": unsubscribed % 7,
                "cleaned_count_since_send": cleaned % 5,
                "campaign_count": self.campaigns.count_at(self.clock.now()) // max(self.n_lists, 1),
                "campaign_last_sent": "",
                "merge_field_count": 5,
                "avg_sub_rate": 6 + h % 30,
                "avg_unsub_rate": h % 3,
                "target_sub_rate": 0,
                "open_rate": round(20 + h % 2500 / 100, 2),
                "click_rate": round(1 + h % 500 / 100, 2),
                "last_sub_date": iso(self.members.created_at(last_member))
                if last_member is not None
                else "",
                "last_unsub_date": "",
            },
            "_links": self._links(f"/lists/{list_id}", "Lists"),
        }

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

    def campaign(self, index: int) -> dict[str, Any]:
        ds = self.campaigns
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        now = self.clock.now()
        created = ds.created_at(index)
        status = self.campaign_status(index)
        scheduled = self.send_time(index)
        sent_at = scheduled if status == "sent" else None
        list_no = index % max(self.n_lists, 1)
        list_id = self.list_id(list_no) if self.n_lists else ""
        recipients = (
            self.current_count(list_no, ("subscribed",), 0, self.list_size(list_no, sent_at or now))
            if self.n_lists
            else 0
        )
        campaign_id = self.campaign_id(index)
        subject = SUBJECTS[h % len(SUBJECTS)] + (" (updated)" if version else "")
        report: dict[str, Any] | None = None
        if sent_at is not None:
            # Opens and clicks keep arriving for a week after a campaign is sent.
            ripeness = min(1.0, (now - sent_at) / (7 * DAY))
            unique_opens = int(recipients * (0.2 + (h % 300) / 1000) * ripeness)
            clicks = int(unique_opens * (0.05 + (h >> 9) % 100 / 1000))
            report = {
                "opens": unique_opens + unique_opens // 3,
                "unique_opens": unique_opens,
                "open_rate": round(unique_opens / recipients, 4) if recipients else 0,
                "clicks": clicks + clicks // 4,
                "subscriber_clicks": clicks,
                "click_rate": round(clicks / recipients, 4) if recipients else 0,
                "ecommerce": {
                    "total_orders": clicks // 10,
                    "total_spent": clicks * 3.5,
                    "total_revenue": clicks * 4.25,
                },
            }
        body: dict[str, Any] = {
            "id": campaign_id,
            "web_id": self._web_id(ds, index),
            "parent_campaign_id": "",
            "type": CAMPAIGN_TYPES[0] if h % 5 else CAMPAIGN_TYPES[h % len(CAMPAIGN_TYPES)],
            "create_time": iso(created),
            "archive_url": f"http://eepurl.com/{campaign_id[:6]}",
            "long_archive_url": f"https://us6.campaign-archive.com/?u=0&id={campaign_id}",
            "status": status,
            "emails_sent": recipients if sent_at is not None else 0,
            "send_time": iso(scheduled),  # the planned time while scheduled
            "content_type": "template" if h % 3 else "html",
            "needs_block_refresh": False,
            "resendable": status == "sent",
            "recipients": {
                "list_id": list_id,
                "list_is_active": True,
                "list_name": LIST_NAMES[list_no % len(LIST_NAMES)],
                "segment_text": "",
                "recipient_count": recipients,
            },
            "settings": {
                "subject_line": subject,
                "preview_text": "",
                "title": f"{subject} #{index}",
                "from_name": "Lifeboat Demo Shop",
                "reply_to": "hello@example.com",
                "use_conversation": False,
                "to_name": "*|FNAME|*",
                "folder_id": "",
                "authenticate": True,
                "auto_footer": False,
                "inline_css": False,
                "auto_tweet": False,
                "fb_comments": True,
                "timewarp": False,
                "template_id": 100 + h % 50,
                "drag_and_drop": True,
            },
            "tracking": {
                "opens": True,
                "html_clicks": True,
                "text_clicks": False,
                "goal_tracking": False,
                "ecomm360": True,
                "google_analytics": "",
                "clicktale": "",
            },
            "delivery_status": {"enabled": False},
            "_links": self._links(f"/campaigns/{campaign_id}", "Campaigns"),
        }
        if report is not None:
            body["report_summary"] = report
        return body

    def _links(self, path: str, schema: str) -> list[dict[str, str]]:
        base = "https://us6.api.mailchimp.com/3.0"
        return [
            {
                "rel": "self",
                "href": f"{base}{path}",
                "method": "GET",
                "targetSchema": f"https://us6.api.mailchimp.com/schema/3.0/{schema}/Instance.json",
            }
        ]

    # --- errors and auth ------------------------------------------------------------------

    def _instance(self) -> str:
        self._requests += 1
        h = f"{mix(self.seed, self.clock.now(), self._requests):016x}{self._requests:016x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def problem(self, status: int, title: str, detail: str, **extra: Any) -> Response:
        body = {
            "type": ERROR_DOCS,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": self._instance(),
            **extra,
        }
        return Response(
            status,
            orjson.dumps(body),
            {"X-Request-Id": body["instance"]},
            content_type=PROBLEM_JSON,
        )

    def error(self, status: int, message: str, **extra: Any) -> Response:
        title = extra.pop("title", None)
        if status == 401 and title is None:
            return self.problem(401, "API Key Missing", "Your request did not include an API key.")
        defaults = {
            400: "Invalid Resource",
            401: "API Key Invalid",
            403: "Forbidden",
            404: "Resource Not Found",
            405: "Method Not Allowed",
            429: "Too Many Requests",
            500: "Internal Server Error",
        }
        return self.problem(status, title or defaults.get(status, "Error"), message, **extra)

    def authorized(self, request: Request) -> bool:
        """Whether any credentials came; `route` tells a wrong key apart ("API Key Invalid")."""
        return bool(request.headers.get("authorization", "").strip())

    def _key_is_valid(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except ValueError:
                return False
            _, _, key = decoded.partition(":")
            return bool(API_KEY.match(key))
        if scheme == "apikey":
            return bool(API_KEY.match(value.strip()))
        if scheme in ("bearer", "oauth"):
            return bool(OAUTH_TOKEN.match(value.strip()))
        return False

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403:
            return self.problem(403, "User Disabled", "This account has been disabled.")
        if status == 503:
            # An account under compliance review: a 503 that is a lockout, not an outage.
            return self.problem(503, "Compliance Related", "This method has been disabled.")
        return self.problem(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        )

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        response = self.problem(
            429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections."
        )
        response.headers["Retry-After"] = str(fault.get("retry_after", 1))
        return response

    # --- requests ---------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        try:
            if not self._key_is_valid(request):
                return self.lockout({"status": 401})
            path = request.path.rstrip("/")
            if not path.startswith(API_PREFIX + "/") and path != API_PREFIX:
                raise BadRequest(404, "The requested resource could not be found.")
            parts = path[len(API_PREFIX) :].strip("/").split("/")
            if request.method != "GET":
                raise BadRequest(
                    405,
                    "The requested method and resource are not compatible. See "
                    "the Allow header for this resource's available methods.",
                )
            if parts == ["ping"]:
                return self.ok(request, {"health_status": "Everything's Chimpy!"})
            if parts == ["lists"]:
                return self.list_lists(request)
            if len(parts) == 2 and parts[0] == "lists":
                return self.ok(request, self.audience(self.list_index(parts[1])))
            if len(parts) == 3 and parts[0] == "lists" and parts[2] == "members":
                return self.list_members(request, self.list_index(parts[1]))
            if parts == ["campaigns"]:
                return self.list_campaigns(request)
            raise BadRequest(404, "The requested resource could not be found.")
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    def ok(self, request: Request, body: dict[str, Any]) -> Response:
        body = select_fields(body, request.arg("fields"), request.arg("exclude_fields"))
        return Response(
            200, orjson.dumps(body), {"X-Request-Id": self._instance()}, content_type=RESPONSE_JSON
        )

    def _invalid(self, name: str, message: str) -> BadRequest:
        return BadRequest(
            400,
            "The resource submitted could not be validated. For field-specific "
            "details, see the 'errors' array.",
            errors=[{"field": name, "message": message}],
        )

    def _int(self, request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = request.arg(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise self._invalid(name, "This value should be of type integer.")
        value = int(raw)
        if not low <= value <= high:
            raise self._invalid(name, f"This value should be between {low} and {high}.")
        return value

    def _paging(self, request: Request) -> tuple[int, int]:
        return (
            self._int(request, "count", DEFAULT_COUNT, 1, MAX_COUNT),
            self._int(request, "offset", 0, 0, 1 << 40),
        )

    def _time(self, request: Request, name: str) -> int | None:
        raw = request.arg(name)
        if not raw:
            return None
        try:
            return parse_iso(raw)
        except ValueError:
            raise self._invalid(
                name,
                "This value should be a valid ISO 8601 date and time, "
                "e.g. 2015-10-21T15:41:36+00:00.",
            ) from None

    def _choice(self, request: Request, name: str, choices: tuple[str, ...]) -> str | None:
        raw = request.arg(name)
        if not raw:
            return None
        if raw not in choices:
            raise self._invalid(name, f"Value must be one of: {', '.join(choices)}.")
        return raw

    def _sort_dir(self, request: Request) -> bool:
        """True for descending order."""
        raw = request.arg("sort_dir")
        if not raw:
            return False
        if raw.upper() not in ("ASC", "DESC"):
            raise self._invalid("sort_dir", "Value must be one of: ASC, DESC.")
        return raw.upper() == "DESC"

    @staticmethod
    def _shown(request: Request, total: int) -> int:
        """`total_items` as a listing fault (empty/partial) makes the vendor report it."""
        return total if request.share >= 1.0 else int(total * request.share)

    # --- lists -----------------------------------------------------------------------------

    def list_lists(self, request: Request) -> Response:
        count, offset = self._paging(request)
        since = self._time(request, "since_date_created")
        before = self._time(request, "before_date_created")
        self._choice(request, "sort_field", ("date_created",))
        descending = self._sort_dir(request)
        ds = self.lists
        order = list(range(self.n_lists))  # audiences are few: a handful at most
        order = [i for i in order if self._in_window(self._list_created(i), since, before)]
        if descending:
            order.reverse()
        total = len(order)
        page = [i for i in order[offset : offset + count] if request.keeps(ds, i)]
        data = [self.audience(i) for i in page]
        self.count_served("lists", len(data))
        return self.ok(
            request,
            {
                "lists": data,
                "total_items": self._shown(request, total),
                "constraints": {
                    "may_create": False,
                    "max_instances": self.n_lists,
                    "current_total_instances": self.n_lists,
                },
                "_links": self._links("/lists", "Lists/Collection"),
            },
        )

    def _list_created(self, index: int) -> int:
        return self.lists.start - (self.lists.history_days + 30 * (self.n_lists - index)) * DAY

    @staticmethod
    def _in_window(when: int, since: int | None, before: int | None) -> bool:
        return (since is None or when > since) and (before is None or when < before)

    # --- members ---------------------------------------------------------------------------

    def list_members(self, request: Request, list_no: int) -> Response:
        count, offset = self._paging(request)
        status = self._choice(request, "status", ALL_STATUSES)
        since = self._time(request, "since_last_changed")
        before = self._time(request, "before_last_changed")
        sort_field = self._choice(request, "sort_field", MEMBER_SORT_FIELDS)
        descending = self._sort_dir(request)
        for name in ("since_timestamp_opt", "before_timestamp_opt"):
            self._time(request, name)  # accepted and validated; not used as a filter here
        # Archived contacts are left out unless asked for by status, as Mailchimp does.
        statuses = (status,) if status else MEMBER_STATUSES
        # Mailchimp leaves the unsorted order open; with an upper bound on last_changed this
        # emulator serves last_changed order, where the bound cuts a prefix.
        by_time = sort_field == "last_changed" or before is not None
        view = MemberView(self, list_no, statuses, since, before, by_time=by_time)
        total = view.total()
        if descending:
            # Descending pages are ascending slices read from the other end.
            start = max(total - offset - count, 0)
            picked = list(_take(view.iterate(start), max(total - offset - start, 0)))
            picked.reverse()
        else:
            picked = list(_take(view.iterate(offset), count))
        ds = self.members
        n = self.n_lists
        data = [self.member(i, list_no, i // n) for i in picked if request.keeps(ds, i)]
        self.count_served("members", len(data))
        return self.ok(
            request,
            {
                "members": data,
                "list_id": self.list_id(list_no),
                "total_items": self._shown(request, total),
                "_links": self._links(
                    f"/lists/{self.list_id(list_no)}/members", "Lists/Members/Collection"
                ),
            },
        )

    # --- campaigns ---------------------------------------------------------------------------

    def list_campaigns(self, request: Request) -> Response:
        count, offset = self._paging(request)
        since_create = self._time(request, "since_create_time")
        before_create = self._time(request, "before_create_time")
        since_send = self._time(request, "since_send_time")
        before_send = self._time(request, "before_send_time")
        status = self._choice(request, "status", CAMPAIGN_STATUSES)
        kind = self._choice(request, "type", CAMPAIGN_TYPES)
        list_filter = request.arg("list_id")
        sort_field = self._choice(request, "sort_field", CAMPAIGN_SORT_FIELDS)
        descending = self._sort_dir(request)
        ds = self.campaigns
        now = self.clock.now()
        # The creation window is an index range (creation time grows with the index).
        lo = 0 if since_create is None else ds.first_index_created_after(since_create)
        hi = ds.count_at(now)
        if before_create is not None:
            hi = min(hi, ds.first_index_created_at_or_after(before_create))
        if since_send is not None:
            lo = max(lo, ds.first_index_created_after(since_send - MAX_SEND_DELAY))
        if before_send is not None:
            hi = min(hi, ds.first_index_created_at_or_after(before_send))
        filtered = bool(ds.deleted) or any(
            v is not None for v in (since_send, before_send, status, kind, list_filter)
        )
        if not filtered and sort_field != "send_time":
            total = max(hi - lo, 0)
            if descending:
                indices = list(range(hi - 1 - offset, max(hi - 1 - offset - count, lo - 1), -1))
            else:
                indices = list(range(lo + offset, min(lo + offset + count, hi)))
        else:
            # Campaigns number in the hundreds: filter the creation window directly.
            matches = []
            for i in range(lo, hi):
                if ds.is_deleted(i):
                    continue  # a deleted campaign is gone from the API without a trace
                body_status = self.campaign_status(i)
                sent_at = self.send_time(i)
                if since_send is not None and (sent_at is None or sent_at <= since_send):
                    continue
                if before_send is not None and (sent_at is None or sent_at >= before_send):
                    continue
                if status is not None and body_status != status:
                    continue
                if kind is not None or list_filter is not None:
                    body = self.campaign(i)
                    if kind is not None and body["type"] != kind:
                        continue
                    if list_filter is not None and body["recipients"]["list_id"] != list_filter:
                        continue
                matches.append(i)
            if sort_field == "send_time":
                matches.sort(key=lambda i: (self.send_time(i) or 0, i))
            if descending:
                matches.reverse()
            total = len(matches)
            indices = matches[offset : offset + count]
        data = [self.campaign(i) for i in indices if request.keeps(ds, i)]
        self.count_served("campaigns", len(data))
        return self.ok(
            request,
            {
                "campaigns": data,
                "total_items": self._shown(request, total),
                "_links": self._links("/campaigns", "Campaigns/Collection"),
            },
        )


class MemberView:
    """One list's members that match a status set and a since_last_changed window, in order.

    Order is by sign-up (position) or, with `by_time`, by (last_changed, index). Either way
    `total` and a start at any offset cost O(log n · log changes), and each record after it O(1).
    """

    def __init__(
        self,
        app: App,
        list_no: int,
        statuses: tuple[str, ...],
        since: int | None,
        before: int | None,
        by_time: bool,
    ) -> None:
        self.app = app
        self.list_no = list_no
        self.statuses = statuses
        self.by_time = by_time
        self.size = app.list_size(list_no)
        self.changes = app.list_changes(list_no)
        ds = app.members
        n = app.n_lists
        if since is None:
            self.first_new = 0
        else:
            first_index = ds.first_index_created_after(since)
            self.first_new = min(max(0, (first_index - list_no + n - 1) // n), self.size)
        # Unchanged members (last_changed = sign-up) stop at the first one created at `before`.
        self.end = self.size
        if before is not None:
            first_after = ds.first_index_created_at_or_after(before)
            self.end = min(max(0, (first_after - list_no + n - 1) // n), self.size)
        status_set = set(statuses)
        # Changed members inside the window, by position or by time of change.
        changed = [
            (when, index)
            for when, index in self.changes.by_time
            if (since is None or when > since)
            and (before is None or when < before)
            and app.member_status(index, index // n) in status_set
        ]
        if by_time:
            self.explicit = changed
        else:
            self.explicit = sorted(
                (index // n, index) for _, index in changed if index // n < self.first_new
            )

    def _status(self, position: int) -> str:
        return self.app.member_status(self.app.member_index(self.list_no, position), position)

    def _unchanged_count(self, lo: int, hi: int) -> int:
        """Never-changed positions in [lo, hi) whose status is in the set (they keep their base)."""
        if hi <= lo:
            return 0
        total = 0
        for status in self.statuses:
            total += self.app.base_count(status, lo, hi)
            total -= _between(self.changes.by_base[status], lo, hi)
        return total

    def total(self) -> int:
        if self.by_time:
            return len(self.explicit) + self._unchanged_count(self.first_new, self.end)
        current = self.app.current_count(self.list_no, self.statuses, self.first_new, self.size)
        return len(self.explicit) + current

    def _seek(self, rank: int, count_in: Any, end: int) -> int:
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
        position = self._seek(
            max(offset - n_explicit, 0),
            lambda lo, hi: self.app.current_count(self.list_no, self.statuses, lo, hi),
            self.size,
        )
        wanted = set(self.statuses)
        changed = self.changes.positions
        for p in range(position, self.size):
            index = self.app.member_index(self.list_no, p)
            # Unchanged members keep their sign-up status: no need to replay versions.
            status = self._status(p) if _contains(changed, p) else self.app.base_status(p)
            if status in wanted:
                yield index

    def _unchanged_key(self, position: int) -> tuple[int, int]:
        index = self.app.member_index(self.list_no, position)
        return self.app.members.created_at(index), index

    def _iterate_by_time(self, offset: int) -> Iterator[int]:
        explicit = self.explicit
        unchanged_total = self._unchanged_count(self.first_new, self.end)
        # k-th of two sorted sequences: split offset into i from `explicit` and j unchanged.
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
        i = lo
        j = offset - i
        position = (
            self._seek(j, self._unchanged_count, self.end) if j < unchanged_total else self.end
        )
        wanted = set(self.statuses)
        changed = self.changes.positions

        def unchanged_from(p: int) -> Iterator[tuple[int, int]]:
            for q in range(p, self.end):
                if not _contains(changed, q) and self.app.base_status(q) in wanted:
                    yield self._unchanged_key(q)

        stream = unchanged_from(position)
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


def _take(items: Iterator[int], n: int) -> Iterator[int]:
    for k, item in enumerate(items):
        if k >= n:
            return
        yield item


def select_fields(body: dict[str, Any], fields: str | None, exclude: str | None) -> dict[str, Any]:
    """Apply Mailchimp's `fields` / `exclude_fields` (comma-separated, dot paths)."""
    if fields:
        body = _keep(body, [f.strip().split(".") for f in fields.split(",") if f.strip()])
    if exclude:
        for path in (f.strip().split(".") for f in exclude.split(",") if f.strip()):
            _drop(body, path)
    return body


def _keep(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_keep(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        sub = [path[1:] for path in paths if path[0] == key]
        if not sub:
            continue
        kept[key] = item if any(not s for s in sub) else _keep(item, [s for s in sub if s])
    return kept


def _drop(value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _drop(item, path)
    elif isinstance(value, dict) and path and path[0] in value:
        if len(path) == 1:
            del value[path[0]]
        else:
            _drop(value[path[0]], path[1:])
