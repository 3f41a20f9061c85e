"""Every Mailchimp emulator response holds to Mailchimp's documented objects and parameters.

mailchimp-marketing ships no response models, so the schema below is written from Mailchimp's
reference (cited per object); the client's operations (`all_params`) are the parameter lists.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import requests
from mailchimp_marketing.api.campaigns_api import CampaignsApi
from mailchimp_marketing.api.lists_api import ListsApi
from mailchimp_marketing.api.ping_api import PingApi

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.mailchimp.routes import PARAMETERS
from emulators.server import Emulator, EmulatorServer

AUTH = ("anystring", demo_credentials(["mailchimp"])["mailchimp"]["api_key"])
SCALE = {"mailchimp.lists": 3, "mailchimp.members": 300, "mailchimp.campaigns": 30}


@dataclass(frozen=True)
class Obj:
    """An object: its documented fields (name -> schema) and those that must be present."""

    fields: dict[str, Any]
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]


@dataclass(frozen=True)
class Map:
    """An object keyed by data (merge tags, interest ids): every value has one schema."""

    values: Any = field(default="any")


def validate(value: Any, schema: Any, path: str = "$") -> Iterator[str]:
    """Each way `value` breaks `schema`: a wrong type, an unknown field, a missing one."""
    if isinstance(schema, Obj):
        if not isinstance(value, dict):
            yield f"{path}: expected an object, got {type(value).__name__}"
            return
        for name in schema.required:
            if name not in value:
                yield f"{path}.{name}: required but missing"
        for name, item in value.items():
            if name not in schema.fields:
                yield f"{path}.{name}: not a documented field"
            else:
                yield from validate(item, schema.fields[name], f"{path}.{name}")
    elif isinstance(schema, list):
        if not isinstance(value, list):
            yield f"{path}: expected an array, got {type(value).__name__}"
            return
        for n, item in enumerate(value):
            yield from validate(item, schema[0], f"{path}[{n}]")
    elif isinstance(schema, Map):
        if not isinstance(value, dict):
            yield f"{path}: expected an object, got {type(value).__name__}"
            return
        for name, item in value.items():
            yield from validate(item, schema.values, f"{path}.{name}")
    elif isinstance(schema, Enum):
        if value not in schema.values:
            yield f"{path}: {value!r} is not one of {schema.values}"
    elif not _is(value, schema):
        yield f"{path}: expected {schema}, got {type(value).__name__} {value!r}"


def _is(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # a bool is an int to Python, never to JSON Schema
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "string":
        return isinstance(value, str)
    if kind == "datetime":  # ISO 8601 with its offset, or "" while unset
        return isinstance(value, str) and (value == "" or _zoned(value))
    raise AssertionError(f"no such type {kind}")


def _zoned(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


S, INT, N, B, T = "string", "integer", "number", "boolean", "datetime"
LINKS = [Obj({"rel": S, "href": S, "method": S, "targetSchema": S, "schema": S})]
# https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
MEMBER = Obj(
    {
        "id": S,
        "email_address": S,
        "unique_email_id": S,
        "contact_id": S,
        "full_name": S,
        "web_id": INT,
        "email_type": Enum(("html", "text")),
        "status": Enum(
            ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
        ),
        "unsubscribe_reason": S,
        "consents_to_one_to_one_messaging": B,
        "sms_phone_number": S,
        "sms_subscription_status": S,
        "sms_subscription_last_updated": S,
        "merge_fields": Map(),
        "interests": Map(B),
        "stats": Obj(
            {
                "avg_open_rate": N,
                "avg_click_rate": N,
                "ecommerce_data": Obj(
                    {"total_revenue": N, "number_of_orders": INT, "currency_code": S}
                ),
            }
        ),
        "ip_signup": S,
        "timestamp_signup": T,
        "ip_opt": S,
        "timestamp_opt": T,
        "member_rating": INT,
        "last_changed": T,
        "language": S,
        "vip": B,
        "email_client": S,
        "location": Obj(
            {
                "latitude": N,
                "longitude": N,
                "gmtoff": INT,
                "dstoff": INT,
                "country_code": S,
                "timezone": S,
                "region": S,
            }
        ),
        "marketing_permissions": [Obj({"marketing_permission_id": S, "text": S, "enabled": B})],
        "last_note": Obj({"note_id": INT, "created_at": T, "created_by": S, "note": S}),
        "source": S,
        "tags_count": INT,
        "tags": [Obj({"id": INT, "name": S})],
        "list_id": S,
        "_links": LINKS,
    },
    required=("id", "email_address", "status", "list_id", "timestamp_opt", "last_changed"),
)
MEMBERS = Obj(
    {"members": [MEMBER], "list_id": S, "total_items": INT, "_links": LINKS},
    required=("members", "total_items"),
)
# https://mailchimp.com/developer/marketing/api/lists/get-lists-info/
LIST_STATS = {
    **dict.fromkeys(
        (
            "member_count",
            "total_contacts",
            "unsubscribe_count",
            "cleaned_count",
            "member_count_since_send",
            "unsubscribe_count_since_send",
            "cleaned_count_since_send",
            "campaign_count",
            "merge_field_count",
        ),
        INT,
    ),
    **dict.fromkeys(
        ("avg_sub_rate", "avg_unsub_rate", "target_sub_rate", "open_rate", "click_rate"), N
    ),
    **dict.fromkeys(("campaign_last_sent", "last_sub_date", "last_unsub_date"), T),
}
AUDIENCE = Obj(
    {
        "id": S,
        "web_id": INT,
        "name": S,
        "contact": Obj(
            dict.fromkeys(
                ("company", "address1", "address2", "city", "state", "zip", "country", "phone"), S
            )
        ),
        "permission_reminder": S,
        "use_archive_bar": B,
        "campaign_defaults": Obj(
            dict.fromkeys(("from_name", "from_email", "subject", "language"), S)
        ),
        "notify_on_subscribe": S,
        "notify_on_unsubscribe": S,
        "date_created": T,
        "list_rating": INT,
        "email_type_option": B,
        "subscribe_url_short": S,
        "subscribe_url_long": S,
        "beamer_address": S,
        "visibility": Enum(("pub", "prv")),
        "double_optin": B,
        "has_welcome": B,
        "marketing_permissions": B,
        "modules": [S],
        "stats": Obj(LIST_STATS),
        "_links": LINKS,
    },
    required=("id", "name", "date_created", "stats"),
)
LISTS = Obj(
    {
        "lists": [AUDIENCE],
        "total_items": INT,
        "constraints": Obj({"may_create": B, "max_instances": INT, "current_total_instances": INT}),
        "_links": LINKS,
    },
    required=("lists", "total_items"),
)
# https://mailchimp.com/developer/marketing/api/campaigns/list-campaigns/
CAMPAIGN = Obj(
    {
        "id": S,
        "web_id": INT,
        "parent_campaign_id": S,
        "type": Enum(("regular", "plaintext", "absplit", "rss", "variate")),
        "create_time": T,
        "archive_url": S,
        "long_archive_url": S,
        "status": Enum(
            ("save", "paused", "schedule", "sending", "sent", "canceled", "canceling", "archived")
        ),
        "emails_sent": INT,
        "send_time": T,
        "content_type": Enum(("template", "html", "url", "multichannel")),
        "needs_block_refresh": B,
        "resendable": B,
        "recipients": Obj(
            {
                "list_id": S,
                "list_is_active": B,
                "list_name": S,
                "segment_text": S,
                "recipient_count": INT,
                "segment_opts": Map(),
            }
        ),
        "settings": Obj(
            {
                **dict.fromkeys(
                    ("subject_line", "preview_text", "title", "from_name", "reply_to"), S
                ),
                **dict.fromkeys(("to_name", "folder_id"), S),
                **dict.fromkeys(
                    (
                        "use_conversation",
                        "authenticate",
                        "auto_footer",
                        "inline_css",
                        "auto_tweet",
                        "fb_comments",
                        "timewarp",
                        "drag_and_drop",
                    ),
                    B,
                ),
                "auto_fb_post": [S],
                "template_id": INT,
            }
        ),
        "variate_settings": Map(),
        "tracking": Obj(
            {
                **dict.fromkeys(
                    ("opens", "html_clicks", "text_clicks", "goal_tracking", "ecomm360"), B
                ),
                "google_analytics": S,
                "clicktale": S,
                "salesforce": Map(),
                "capsule": Map(),
            }
        ),
        "rss_opts": Map(),
        "ab_split_opts": Map(),
        "social_card": Map(),
        "report_summary": Obj(
            {
                "opens": INT,
                "unique_opens": INT,
                "open_rate": N,
                "clicks": INT,
                "subscriber_clicks": INT,
                "click_rate": N,
                "ecommerce": Obj({"total_orders": INT, "total_spent": N, "total_revenue": N}),
            }
        ),
        "delivery_status": Obj(
            {"enabled": B, "can_cancel": B, "status": S, "emails_sent": INT, "emails_canceled": INT}
        ),
        "_links": LINKS,
    },
    required=("id", "type", "status", "create_time"),
)
CAMPAIGNS = Obj(
    {"campaigns": [CAMPAIGN], "total_items": INT, "_links": LINKS},
    required=("campaigns", "total_items"),
)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """One emulator whose clock has moved: members changed and archived, campaigns sent."""
    server = EmulatorServer(Emulator(seed=42, scale=SCALE)).start()
    EmulatorControl(server.url).advance(
        days=9, changes={"mailchimp.members": {"updated": 40, "deleted": 12}}
    )
    yield server
    server.stop()


def get(server: EmulatorServer, path: str, **params: Any) -> dict[str, Any]:
    response = requests.get(
        f"{server.url}/mailchimp/3.0{path}", params=params, auth=AUTH, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def problems(value: Any, schema: Any) -> list[str]:
    return list(validate(value, schema))


def test_every_listing_page_matches_mailchimps_objects(server: EmulatorServer) -> None:
    lists = get(server, "/lists", count=1000, include_total_contacts="true")
    campaigns = get(server, "/campaigns", count=1000)

    assert problems(lists, LISTS) == []
    assert problems(campaigns, CAMPAIGNS) == []
    assert any("report_summary" in c for c in campaigns["campaigns"])  # sent ones were checked
    for audience in lists["lists"]:
        for status in (None, "archived"):
            params = {"status": status} if status else {}
            members = get(server, f"/lists/{audience['id']}/members", count=1000, **params)
            assert members["members"] and problems(members, MEMBERS) == []


def test_single_objects_match_mailchimps_objects(server: EmulatorServer) -> None:
    audience = get(server, "/lists", count=1)["lists"][0]
    member = get(server, f"/lists/{audience['id']}/members", count=1)["members"][0]
    campaign = get(server, "/campaigns", count=1)["campaigns"][0]

    assert problems(get(server, f"/lists/{audience['id']}"), AUDIENCE) == []
    assert problems(get(server, f"/lists/{audience['id']}/members/{member['id']}"), MEMBER) == []
    assert problems(get(server, f"/campaigns/{campaign['id']}"), CAMPAIGN) == []


@pytest.mark.parametrize(
    ("mangle", "complaint"),
    [
        (lambda m: m.update(web_id=str(m["web_id"])), "$.web_id: expected integer"),
        (lambda m: m.update(vip=1), "$.vip: expected boolean"),
        (lambda m: m.update(member_rating=True), "$.member_rating: expected integer"),
        (lambda m: m.update(favourite_colour="blue"), "$.favourite_colour: not a documented"),
        (lambda m: m["location"].update(latitude="45.7"), "$.location.latitude: expected number"),
        (lambda m: m.pop("list_id"), "$.list_id: required but missing"),
        (lambda m: m.update(status="deleted"), "$.status: 'deleted' is not one of"),
        (lambda m: m.update(last_changed="2026-01-01 10:00"), "$.last_changed: expected datetime"),
        (lambda m: m["tags"].append({"id": "7", "name": "x"}), "$.tags[0].id: expected integer"),
    ],
)
def test_the_validator_catches_what_mailchimp_would_not_send(
    server: EmulatorServer, mangle: Any, complaint: str
) -> None:
    audience = get(server, "/lists", count=1)["lists"][0]
    member = get(server, f"/lists/{audience['id']}/members", count=1)["members"][0]
    member["tags"] = []
    mangle(member)

    found = problems(member, MEMBER)

    assert any(p.startswith(complaint) for p in found), found


def _client_params(method: Any) -> set[str]:
    """The query parameters an official client operation can send (its `all_params`)."""
    source = inspect.getsource(method)
    names = re.search(r"all_params = \[([^\]]*)\]", source)
    assert names, method
    return set(re.findall(r"'([a-z_]+)'", names.group(1)))


PATH_PARAMS = {"list_id", "subscriber_hash", "campaign_id"}


@pytest.mark.parametrize(
    ("endpoint", "operation"),
    [
        ("ping", PingApi.get_with_http_info),
        ("lists", ListsApi.get_all_lists_with_http_info),
        ("list", ListsApi.get_list_with_http_info),
        ("members", ListsApi.get_list_members_info_with_http_info),
        ("member", ListsApi.get_list_member_with_http_info),
        ("campaigns", CampaignsApi.list_with_http_info),
        ("campaign", CampaignsApi.get_with_http_info),
    ],
)
def test_the_emulator_takes_exactly_the_parameters_the_client_sends(
    endpoint: str, operation: Any
) -> None:
    sent = _client_params(operation) - PATH_PARAMS
    # The campaign listing's `list_id` is a query parameter, not a path one.
    if endpoint == "campaigns":
        sent.add("list_id")

    assert set(PARAMETERS[endpoint]) == sent
