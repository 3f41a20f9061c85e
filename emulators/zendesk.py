"""Zendesk Support's API (tickets and users) through its cursor-based incremental export."""

from __future__ import annotations

import base64
import binascii
import bisect
import heapq
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from emulators.core import BadRequest, Dataset, Request, Response, VendorApp, json_response
from emulators.names import FIRST_NAMES, LAST_NAMES, person
from emulators.settings import DAY

MAX_PER_PAGE = 1000
# The export leaves out anything created or changed within this many seconds of the
# request, and refuses a start_time that recent.
FRESHNESS_LAG = 60
RATE_LIMIT = 700  # X-Rate-Limit of a Suite Professional account, requests per minute
USER_ID_BASE = 361_000_000_000  # Zendesk user ids are large integers; ticket ids count from 1
ORG_ID_BASE = 362_000_000_000
GROUP_IDS = (363_000_000_101, 363_000_000_102, 363_000_000_103)
AGENTS = 6  # users 0..AGENTS-1 are the support team (user 0 is the account owner)
STRIPE_OVERLAP_PERCENT = 60  # share of end users who are also Stripe customers
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
TICKET_TYPES = ("question", "incident", "problem", "task", None)
PRIORITIES = ("low", "normal", "normal", "high", "urgent", None)
CHANNELS = ("email", "web", "api", "chat", "email")
SUBJECTS = (
    "Refund for order #{n}",
    "Can't log in to my account",
    "Invoice {n} shows the wrong amount",
    "Card declined at checkout",
    "Where is my delivery?",
    "How do I change my plan?",
    "Cancel my subscription",
    "Password reset email never arrives",
    "Charged twice for order #{n}",
    "Question about VAT on invoice {n}",
    "Item arrived damaged",
    "Update billing address",
)
TAGS = ("billing", "refund", "login", "shipping", "vip", "subscription", "bug", "feedback")
TIME_ZONES = (
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("London", "Europe/London"),
    ("Paris", "Europe/Paris"),
    ("Tokyo", "Asia/Tokyo"),
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
)
_PATH = re.compile(r"^/api/v2/incremental/(tickets|users)/cursor(?:\.json)?$")
_CURSOR = re.compile(r"^(\d+)\.0\|\|(\d+)\|$")


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


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


class App(VendorApp):
    name = "zendesk"
    # Record `url` fields name the account's real host, as Zendesk's do.
    base_url = "https://lifeboat-demo.zendesk.com"

    def __init__(self, clock, seed, scale, credentials=None) -> None:
        super().__init__(clock, seed, scale, credentials)
        self.users = self.dataset(
            "users", 300, created_per_day=6, updated_per_day=0.01, deleted_per_day=0.002
        )
        self.tickets = self.dataset(
            "tickets", 1500, created_per_day=40, updated_per_day=0.03, deleted_per_day=0.002
        )
        # Stripe's customers computed from the same seed, so that shared people carry the
        # same name and email in both vendors (nothing of Stripe's state is read).
        self.stripe_customers = Dataset("customers", seed, clock.start, 0)
        self.builders: dict[str, Callable[[int], dict[str, Any]]] = {
            "tickets": self.ticket,
            "users": self.user,
        }
        self._changed: dict[str, tuple[int, list[tuple[int, int]]]] = {}

    # --- ids ------------------------------------------------------------------------------

    def record_id(self, resource: str, index: int) -> int:
        return index + 1 if resource == "tickets" else USER_ID_BASE + index

    def record_index(self, resource: str, record_id: int) -> int:
        return record_id - 1 if resource == "tickets" else record_id - USER_ID_BASE

    def user_id(self, index: int) -> int:
        return USER_ID_BASE + index

    # --- objects --------------------------------------------------------------------------

    def identity(self, index: int) -> tuple[str, str, str]:
        """(name, email, phone) of a user; most end users are also Stripe customers."""
        ds = self.users
        h = ds.hash(index, 1)
        if index < AGENTS:
            first = FIRST_NAMES[h % len(FIRST_NAMES)]
            last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)]
            handle = "owner" if index == 0 else f"agent{index}"
            return f"{first} {last}", f"{handle}@support.example.com", "+15550000000"
        if h % 100 < STRIPE_OVERLAP_PERCENT:
            return person(self.stripe_customers, index)
        name, email, phone = person(ds, index)
        return name, email.replace("@example.com", "@example.org"), phone

    def user(self, index: int) -> dict[str, Any]:
        ds = self.users
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        name, email, phone = self.identity(index)
        created = ds.created_at(index)
        updated = ds.updated_at(index)
        role = "admin" if index == 0 else ("agent" if index < AGENTS else "end-user")
        zone, iana = TIME_ZONES[h % len(TIME_ZONES)]
        org = ORG_ID_BASE + h % 40 if h % 3 == 0 and role == "end-user" else None
        return {
            "id": self.user_id(index),
            "url": f"{self.base_url}/api/v2/users/{self.user_id(index)}.json",
            "name": name,
            "email": email,
            "created_at": iso(created),
            "updated_at": iso(updated),
            "time_zone": zone,
            "iana_time_zone": iana,
            "phone": phone if h % 4 else None,
            "shared_phone_number": None if h % 4 else False,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": org,
            "role": role,
            "verified": bool(h % 7),
            "external_id": None,
            "tags": [TAGS[h % len(TAGS)]] if h % 5 == 0 else [],
            "alias": None,
            "active": not ds.is_deleted(index),
            "shared": False,
            "shared_agent": False,
            "last_login_at": iso(updated) if version or role != "end-user" else None,
            "two_factor_auth_enabled": None,
            "signature": f"{name.split()[0]} from Support" if role != "end-user" else None,
            "details": "",
            "notes": "",
            "role_type": None if role == "end-user" else (4 if role == "admin" else 0),
            "custom_role_id": None,
            "moderator": role != "end-user",
            "ticket_restriction": "requested" if role == "end-user" else None,
            "only_private_comments": False,
            "restricted_agent": role == "end-user",
            "suspended": bool(version and h % 11 == 0),
            "default_group_id": GROUP_IDS[index % len(GROUP_IDS)] if role != "end-user" else None,
            "report_csv": role == "admin",
            "user_fields": {"plan": ["free", "pro", "business"][h % 3]},
        }

    def ticket(self, index: int) -> dict[str, Any]:
        ds = self.tickets
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        created = ds.created_at(index)
        updated = ds.updated_at(index)
        ticket_id = index + 1
        users_then = max(self.users.count_at(created), AGENTS + 1)
        requester = AGENTS + ds.hash(index, 3) % max(users_then - AGENTS, 1)
        assignee = 1 + (h >> 4) % (AGENTS - 1)
        if ds.is_deleted(index):
            status = "deleted"
        else:
            # Tickets from before the clock started have moved further along; each update
            # moves one step more. Status never changes without an update (and a new
            # generated_timestamp), as in Zendesk.
            age_weeks = max(self.clock.start - created, 0) // (7 * DAY)
            step = min(5, (h % 3) + age_weeks + version)
            status = TICKET_STATUSES[step]
        subject = SUBJECTS[h % len(SUBJECTS)].format(n=100000 + (h >> 8) % 900000)
        _, requester_email, _ = self.identity(requester)
        channel = CHANNELS[(h >> 12) % len(CHANNELS)]
        return {
            "url": f"{self.base_url}/api/v2/tickets/{ticket_id}.json",
            "id": ticket_id,
            "external_id": None,
            "via": {
                "channel": channel,
                "source": {
                    "from": {"address": requester_email} if channel == "email" else {},
                    "to": {"address": "support@example.com"} if channel == "email" else {},
                    "rel": None,
                },
            },
            "created_at": iso(created),
            "updated_at": iso(updated),
            "generated_timestamp": updated,
            "type": TICKET_TYPES[(h >> 16) % len(TICKET_TYPES)],
            "subject": subject,
            "raw_subject": subject,
            "description": f"Hello, {subject.lower()}. Could you help? Thanks.",
            "priority": PRIORITIES[(h >> 20) % len(PRIORITIES)],
            "status": status,
            "recipient": "support@example.com" if channel == "email" else None,
            "requester_id": self.user_id(requester),
            "submitter_id": self.user_id(requester),
            "assignee_id": self.user_id(assignee) if status != "new" else None,
            "organization_id": None,
            "group_id": GROUP_IDS[assignee % len(GROUP_IDS)],
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": sorted({TAGS[h % len(TAGS)], TAGS[(h >> 24) % len(TAGS)]}),
            "custom_fields": [{"id": 360_000_000_001, "value": f"order-{100000 + index}"}],
            "satisfaction_rating": {
                "score": "good" if status in ("solved", "closed") and h % 2 else "unoffered"
            },
            "sharing_agreement_ids": [],
            "custom_status_id": 360_000_000_100 + TICKET_STATUSES.index(status)
            if status != "deleted"
            else None,
            "fields": [{"id": 360_000_000_001, "value": f"order-{100000 + index}"}],
            "followup_ids": [],
            "ticket_form_id": 360_000_000_200,
            "brand_id": 360_000_000_300,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": channel == "chat",
        }

    # --- requests -------------------------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        """Basic auth as `{email}/token:{api_token}` or `{email}:{password}`, or an OAuth bearer."""
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return bool(auth[7:].strip())
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        email = user.removesuffix("/token")
        return bool(re.match(r"^[^@\s/]+@[^@\s/]+$", email)) and bool(secret)

    def error(self, status: int, message: str, **extra: Any) -> Response:
        if status == 401:
            # Zendesk answers every authentication failure with this one short body.
            return json_response({"error": "Couldn't authenticate you"}, 401)
        code = extra.pop("code", None) or {
            400: "InvalidValue",
            403: "Forbidden",
            404: "RecordNotFound",
            422: "InvalidValue",
        }.get(status, "Error")
        return json_response({"error": code, "description": message, **extra}, status)

    def lockout(self, fault: dict[str, Any]) -> Response:
        status = int(fault.get("status", 401))
        if status == 403 and fault.get("reason") == "suspended":
            return self.error(
                403,
                "This account has been suspended. Please contact the account "
                "owner of this help desk for further help.",
                code="AccountSuspended",
            )
        if status == 403:
            return self.error(
                403,
                "You do not have access to this page. Please contact the "
                "account owner of this help desk for further help.",
            )
        return self.error(401, "Couldn't authenticate you")

    def rate_limited(self, fault: dict[str, Any]) -> Response:
        # Zendesk's 429 body is plain text, not its JSON error envelope.
        return Response(
            429,
            b"Number of allowed API requests per minute exceeded",
            {
                "Retry-After": str(fault.get("retry_after", 1)),
                "X-Rate-Limit": str(RATE_LIMIT),
                "X-Rate-Limit-Remaining": "0",
            },
            content_type="text/plain; charset=utf-8",
        )

    def route(self, request: Request) -> Response:
        try:
            match = _PATH.match(request.path)
            if request.method != "GET" or match is None:
                raise BadRequest(404, "Not found", code="InvalidEndpoint")
            return self.export(match.group(1), request)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)

    # --- incremental export ---------------------------------------------------------------

    def _per_page(self, request: Request) -> int:
        raw = request.arg("per_page", str(MAX_PER_PAGE))
        if not raw.lstrip("-").isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
            raise BadRequest(
                400,
                f"per_page must be an integer between 1 and {MAX_PER_PAGE}",
                code="InvalidPaginationParameter",
            )
        return int(raw)

    def _position(self, resource: str, request: Request) -> tuple[int, int]:
        """The (generated_timestamp, index) after which this page starts (exclusive)."""
        cursor = request.arg("cursor")
        if cursor:
            when, record_id = decode_cursor(cursor)
            return when, self.record_index(resource, record_id)
        raw = request.arg("start_time")
        if raw is None or raw == "":
            raise BadRequest(400, "start_time or cursor is required")
        if not raw.isdigit():
            raise BadRequest(400, f"start_time must be a Unix epoch time in seconds, got {raw!r}")
        start = int(raw)
        if start > self.clock.now() - FRESHNESS_LAG:
            raise BadRequest(422, "Too recent start_time. Use a start_time older than 1 minute")
        return start, -1  # "on or after start_time": index -1 sorts before every record

    def _changed_keys(self, resource: str) -> list[tuple[int, int]]:
        """(last change time, index) of every record changed since creation, sorted."""
        ds = self.datasets[resource]
        cached = self._changed.get(resource)
        if cached is None or cached[0] != len(ds.log):
            cached = (len(ds.log), sorted((t, i) for i, t in ds.updated.items()))
            self._changed[resource] = cached
        return cached[1]

    def _stream(
        self, resource: str, after: tuple[int, int], cutoff: int
    ) -> Iterator[tuple[int, int]]:
        """(generated_timestamp, index) of records after `after` up to `cutoff`, in order.

        Untouched records are ordered by creation, which follows the index; changed ones come
        from the sorted change log. Cost grows with the page, not with the dataset.
        """
        ds = self.datasets[resource]
        changed = self._changed_keys(resource)

        def untouched() -> Iterator[tuple[int, int]]:
            index = max(ds.first_index_created_at_or_after(after[0]), 0)
            last = ds.count_at(cutoff)
            while index < last:
                if index not in ds.updated:
                    key = (ds.created_at(index), index)
                    if key > after:
                        yield key
                index += 1

        def touched() -> Iterator[tuple[int, int]]:
            pos = bisect.bisect_right(changed, after)
            while pos < len(changed) and changed[pos][0] <= cutoff:
                yield changed[pos]
                pos += 1

        return heapq.merge(untouched(), touched())

    def export(self, resource: str, request: Request) -> Response:
        ds = self.datasets[resource]
        per_page = self._per_page(request)
        after = self._position(resource, request)
        exclude_deleted = resource == "tickets" and request.arg("exclude_deleted") == "true"
        cutoff = self.clock.now() - FRESHNESS_LAG
        page: list[tuple[int, int]] = []
        more = False
        for key in self._stream(resource, after, cutoff):
            index = key[1]
            if exclude_deleted and ds.is_deleted(index):
                continue
            if not request.keeps(ds, index):
                continue
            if len(page) == per_page:
                more = True
                break
            page.append(key)
        build = self.builders[resource]
        records = [build(index) for _, index in page]
        self.count_served(resource, len(records))
        base = self._public_base(request)
        path = f"{base}/api/v2/incremental/{resource}/cursor.json"

        def link(key: tuple[int, int] | None) -> tuple[str | None, str | None]:
            if key is None:
                return None, None
            cursor = encode_cursor(key[0], self.record_id(resource, key[1]))
            query = {"cursor": cursor}
            if request.arg("per_page"):
                query["per_page"] = str(per_page)
            if exclude_deleted:
                query["exclude_deleted"] = "true"
            return cursor, f"{path}?{urlencode(query)}"

        after_cursor, after_url = link(page[-1] if page else None)
        before_cursor, before_url = link(page[0] if page and request.arg("cursor") else None)
        body = {
            resource: records,
            "after_url": after_url,
            "after_cursor": after_cursor,
            "before_url": before_url,
            "before_cursor": before_cursor,
            "end_of_stream": not more,
        }
        return json_response(
            body, X_Rate_Limit=str(RATE_LIMIT), X_Rate_Limit_Remaining=str(RATE_LIMIT - 1)
        )

    def _public_base(self, request: Request) -> str:
        """Where the caller reached us, so `after_url` leads back here (as Zendesk's does)."""
        host = request.headers.get("host")
        if not host:
            return self.base_url
        return f"http://{host}/{self.name}"
