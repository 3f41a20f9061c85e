"""Zendesk Support's seeded records: users, tickets, and the groups and organizations they name.

Every record is built on demand from the dataset's seeded hash, so listing a million
tickets never holds them in memory.
"""

from __future__ import annotations

import time
from typing import Any

from emulators.core import Dataset
from emulators.names import FIRST_NAMES, LAST_NAMES, person
from emulators.settings import DAY

USER_ID_BASE = 361_000_000_000  # Zendesk user ids are large integers; ticket ids count from 1
ORG_ID_BASE = 362_000_000_000
ORGANIZATIONS = 40
GROUP_IDS = (363_000_000_101, 363_000_000_102, 363_000_000_103)
GROUP_NAMES = ("Support", "Billing", "Shipping")
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


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Records:
    """The record builders of the Zendesk app (a mixin: the app owns the datasets)."""

    base_url: str
    users: Dataset
    tickets: Dataset
    stripe_customers: Dataset
    clock: Any

    # --- ids ------------------------------------------------------------------------------

    def record_id(self, resource: str, index: int) -> int:
        return index + 1 if resource == "tickets" else USER_ID_BASE + index

    def record_index(self, resource: str, record_id: int) -> int:
        return record_id - 1 if resource == "tickets" else record_id - USER_ID_BASE

    def user_id(self, index: int) -> int:
        return USER_ID_BASE + index

    # --- people ---------------------------------------------------------------------------

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
        org = ORG_ID_BASE + h % ORGANIZATIONS if h % 3 == 0 and role == "end-user" else None
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

    # --- tickets --------------------------------------------------------------------------

    def ticket_status(self, index: int, created: int, h: int) -> str:
        ds = self.tickets
        if ds.is_deleted(index):
            return "deleted"
        # Tickets from before the clock started have moved further along; each update moves
        # one step more. Status never changes without an update (and a new
        # generated_timestamp), as in Zendesk.
        age_weeks = max(self.clock.start - created, 0) // (7 * DAY)
        step = min(5, (h % 3) + age_weeks + ds.record_version(index))
        return TICKET_STATUSES[step]

    def ticket_people(self, index: int, created: int, h: int) -> tuple[int, int]:
        """(requester, assignee) user indices of a ticket (`h`: its hash with salt 4)."""
        users_then = max(self.users.count_at(created), AGENTS + 1)
        requester = AGENTS + self.tickets.hash(index, 3) % max(users_then - AGENTS, 1)
        assignee = 1 + (h >> 4) % (AGENTS - 1)
        return requester, assignee

    def ticket(self, index: int) -> dict[str, Any]:
        ds = self.tickets
        h = ds.hash(index, 4)
        created = ds.created_at(index)
        updated = ds.updated_at(index)
        ticket_id = index + 1
        requester, assignee = self.ticket_people(index, created, h)
        status = self.ticket_status(index, created, h)
        subject = SUBJECTS[h % len(SUBJECTS)].format(n=100000 + (h >> 8) % 900000)
        _, requester_email, _ = self.identity(requester)
        channel = CHANNELS[(h >> 12) % len(CHANNELS)]
        order = f"order-{100000 + index}"
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
            "custom_fields": [{"id": 360_000_000_001, "value": order}],
            "satisfaction_rating": {
                "score": "good" if status in ("solved", "closed") and h % 2 else "unoffered"
            },
            "sharing_agreement_ids": [],
            "custom_status_id": 360_000_000_100 + TICKET_STATUSES.index(status)
            if status != "deleted"
            else None,
            "fields": [{"id": 360_000_000_001, "value": order}],
            "followup_ids": [],
            "ticket_form_id": 360_000_000_200,
            "brand_id": 360_000_000_300,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": channel == "chat",
        }

    # --- what records name ----------------------------------------------------------------

    def group(self, group_id: int) -> dict[str, Any]:
        position = GROUP_IDS.index(group_id)
        created = iso(self.clock.start - 400 * DAY)
        return {
            "id": group_id,
            "url": f"{self.base_url}/api/v2/groups/{group_id}.json",
            "name": GROUP_NAMES[position],
            "description": f"{GROUP_NAMES[position]} requests",
            "default": position == 0,
            "deleted": False,
            "created_at": created,
            "updated_at": created,
        }

    def organization(self, organization_id: int) -> dict[str, Any]:
        n = organization_id - ORG_ID_BASE
        created = iso(self.clock.start - 300 * DAY + n * DAY)
        return {
            "id": organization_id,
            "url": f"{self.base_url}/api/v2/organizations/{organization_id}.json",
            "name": f"{LAST_NAMES[n % len(LAST_NAMES)]} & Co {n}",
            "domain_names": [],
            "details": "",
            "notes": "",
            "group_id": None,
            "shared_tickets": False,
            "shared_comments": False,
            "external_id": None,
            "tags": [],
            "organization_fields": {},
            "created_at": created,
            "updated_at": created,
        }
