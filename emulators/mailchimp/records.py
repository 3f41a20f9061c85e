"""Mailchimp's objects as the API serves them: audiences, members and campaigns."""

from __future__ import annotations

import hashlib
from typing import Any

from emulators.mailchimp.data import (
    CAMPAIGN_TYPES,
    CITIES,
    CUSTOMER_SHARE,
    LIST_NAMES,
    SUBJECTS,
    TAGS,
    Data,
    iso,
)
from emulators.names import FIRST_NAMES, LAST_NAMES, person
from emulators.settings import DAY

API_BASE = "https://us6.api.mailchimp.com/3.0"
SCHEMA_BASE = "https://us6.api.mailchimp.com/schema/3.0"


class Records(Data):
    """Builds each object from its record's hash, at the emulated clock's time."""

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

    def member_email_type(self, index: int) -> str:
        return "html" if self.members.hash(index, 4) % 7 else "text"

    def member_vip(self, index: int) -> bool:
        return self.members.hash(index, 4) % 50 == 0

    def unique_email_id(self, index: int) -> str:
        return f"{self.members.hash(index, 6):016x}"[:10]

    def subscriber_hash(self, index: int, position: int) -> str:
        """The member's id: the MD5 of its lower-cased email address."""
        return hashlib.md5(self.member_email(index, position)[2].lower().encode()).hexdigest()

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
            "unique_email_id": self.unique_email_id(index),
            "contact_id": f"{ds.hash(index, 7):032x}"[:32],
            "full_name": f"{first} {last}",
            "web_id": self._web_id(ds, index),
            "email_type": self.member_email_type(index),
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
            "vip": self.member_vip(index),
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
            "source": ["API - Generic", "Hosted Signup Form", "Import", "Admin Add"][h % 4],
            "tags_count": len(tags),
            "tags": [{"id": 10_000 + TAGS.index(t), "name": t} for t in tags],
            "list_id": list_id,
            "_links": self._links(f"/lists/{list_id}/members/{subscriber_hash}", "Lists/Members"),
        }

    def audience(self, index: int, total_contacts: bool = False) -> dict[str, Any]:
        """An audience; `total_contacts` adds the count of contacts in any state, as asked."""
        ds = self.lists
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        list_id = self.list_id(index)
        created = self.list_created(index)
        size = self.list_size(index)
        subscribed = self.current_count(index, ("subscribed",), 0, size)
        unsubscribed = self.current_count(index, ("unsubscribed",), 0, size)
        cleaned = self.current_count(index, ("cleaned",), 0, size)
        last_member = self.member_index(index, size - 1) if size else None
        city, country, _, _, _ = CITIES[h % len(CITIES)]
        name = LIST_NAMES[index % len(LIST_NAMES)] + (
            f" {index // len(LIST_NAMES) + 1}" if index >= len(LIST_NAMES) else ""
        )
        body: dict[str, Any] = {
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
                "campaign_last_sent": iso(self.last_sent(index)),
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
        if total_contacts:
            body["stats"]["total_contacts"] = size
        return body

    def campaign(self, index: int) -> dict[str, Any]:
        ds = self.campaigns
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        now = self.clock.now()
        created = ds.created_at(index)
        status = self.campaign_status(index)
        scheduled = self.send_time(index)
        sent_at = scheduled if status == "sent" else None
        list_no = self.campaign_list(index)
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
            "type": CAMPAIGN_TYPES[0] if h % 5 else CAMPAIGN_TYPES[(h >> 8) % len(CAMPAIGN_TYPES)],
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
        return [
            {
                "rel": "self",
                "href": f"{API_BASE}{path}",
                "method": "GET",
                "targetSchema": f"{SCHEMA_BASE}/{schema}/Instance.json",
            }
        ]
