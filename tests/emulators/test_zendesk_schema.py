"""Every Zendesk emulator response validates against Zendesk's published models.

The record models are zenpy's (`zenpy.lib.api_objects`, generated from Zendesk's reference:
each attribute carries its documented type and whether it is mandatory). Fields Zendesk
documents that zenpy's generated models predate are listed below with the reference page
that documents them. The envelopes follow Zendesk's documented JSON of each endpoint.
"""

from __future__ import annotations

import inspect
import keyword
import re
from functools import cache
from typing import Any

import pytest
import requests
from zenpy.lib import api_objects
from zenpy.lib.mapping import ZendeskObjectMapping

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer

ZENDESK = demo_credentials(["zendesk"])["zendesk"]
AUTH = (f"{ZENDESK['email']}/token", ZENDESK["api_token"])
SCALE = {"zendesk.tickets": 300, "zendesk.users": 60, "stripe.customers": 60}

_DOCS = "https://developer.zendesk.com/api-reference/ticketing"
# Fields of Zendesk's current JSON formats that zenpy's generated models do not carry.
DOCUMENTED_SINCE: dict[str, dict[str, str]] = {
    # f"{_DOCS}/tickets/tickets/#json-format"
    "Ticket": {
        "allow_attachments": "boolean",
        "allow_channelback": "boolean",
        "custom_status_id": "integer",
        "email_cc_ids": "array",
        "fields": "array",
        "follower_ids": "array",
        "followup_ids": "array",
        "from_messaging_channel": "boolean",
        "generated_timestamp": "integer",
        "is_public": "boolean",
        "ticket_form_id": "integer",
    },
    # f"{_DOCS}/users/users/#json-format"
    "User": {
        "default_group_id": "integer",
        "iana_time_zone": "string",
        "report_csv": "boolean",
        "role_type": "integer",
        "shared_phone_number": "boolean",
    },
    # f"{_DOCS}/groups/groups/#json-format"
    "Group": {"default": "boolean", "description": "string", "is_public": "boolean"},
    # https://developer.zendesk.com/documentation/ticketing/reference-guides/via-object-reference/
    "Via": {"channel": "string"},
    "Source": {"from": "object", "to": "object", "rel": "string"},
}
# The documented JSON around the records, per endpoint: field -> (type, nullable).
# {_DOCS}/ticket-management/incremental_exports/ and /api-reference/introduction/pagination/
ENVELOPES: dict[str, dict[str, tuple[str, bool]]] = {
    "cursor_export": {
        "after_url": ("string", True),
        "after_cursor": ("string", True),
        "before_url": ("string", True),
        "before_cursor": ("string", True),
        "end_of_stream": ("boolean", False),
    },
    "time_export": {
        "next_page": ("string", True),
        "count": ("integer", False),
        "end_of_stream": ("boolean", False),
        "end_time": ("integer", False),
    },
    "cursor_list": {"meta": ("object", False), "links": ("object", False)},
    "offset_list": {
        "next_page": ("string", True),
        "previous_page": ("string", True),
        "count": ("integer", False),
    },
}
MODELS = {"tickets": "Ticket", "users": "User", "groups": "Group", "organizations": "Organization"}
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_FIELD = re.compile(r"((?:[ \t]*# [A-Za-z-]+:.*\n)+)\s*self\.(\w+) = ")


@cache
def model(name: str) -> dict[str, tuple[str | None, bool]]:
    """zenpy's attributes of a class: name -> (documented type or None, mandatory)."""
    cls = getattr(api_objects, name)
    fields: dict[str, tuple[str | None, bool]] = {
        param.removesuffix("_") if keyword.iskeyword(param[:-1]) else param: (None, False)
        for param in inspect.signature(cls.__init__).parameters
        if param not in ("self", "api", "kwargs")
    }
    for comments, attribute in _FIELD.findall(inspect.getsource(cls.__init__)):
        kind = re.search(r"# Type: (.+)", comments)
        mandatory = re.search(r"# Mandatory: yes", comments) is not None
        fields[attribute] = (kind.group(1).strip() if kind else None, mandatory)
    for field, kind in DOCUMENTED_SINCE.get(name, {}).items():
        fields[field] = (kind, False)
    return fields


def violations(record: Any, name: str, where: str = "") -> list[str]:
    """Every way `record` breaks zenpy's model `name`: unknown fields, wrong types, missing."""
    if not isinstance(record, dict):
        return [f"{where or name}: expected an object, got {type(record).__name__}"]
    fields = model(name)
    found = [f"{where}{key}: not a field of {name}" for key in record if key not in fields]
    for field, (kind, mandatory) in fields.items():
        path = f"{where}{field}"
        if field not in record:
            found += [f"{path}: mandatory but missing"] if mandatory else []
        elif record[field] is None:
            found += [f"{path}: mandatory but null"] if mandatory else []
        else:
            found += type_violations(record[field], kind, field, path)
    return found


def type_violations(value: Any, kind: str | None, field: str, path: str) -> list[str]:
    nested = re.fullmatch(r":class:`(\w+)`", kind or "")
    if (nested and nested.group(1) != "hash") or kind is None:
        cls = nested.group(1) if nested else None
        cls = cls or getattr(ZendeskObjectMapping.class_mapping.get(field), "__name__", None)
        if cls is None:
            return [f"{path}: zenpy gives no type and no model"]
        return violations(value, cls, f"{path}.")
    expected = {
        "integer": int, "string": str, "boolean": bool, "date": str, "array": list,
        "object": dict, ":class:`hash`": dict,
    }[kind]  # fmt: skip
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if ok and kind == "date":
        ok = bool(_ISO.match(value))
    if ok and kind == "array" and field.endswith("_ids"):
        ok = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    if ok and kind == "array" and field == "tags":
        ok = all(isinstance(item, str) for item in value)
    return [] if ok else [f"{path}: {value!r} is not of type {kind}"]


def envelope_violations(body: dict[str, Any], shape: str, resource: str) -> list[str]:
    spec = ENVELOPES[shape]
    allowed = {*spec, resource, *MODELS}
    found = [f"{key}: not in the documented response" for key in body if key not in allowed]
    for field, (kind, nullable) in spec.items():
        if field not in body:
            found.append(f"{field}: missing")
        elif body[field] is None:
            found += [] if nullable else [f"{field}: null"]
        else:
            found += type_violations(body[field], kind, field, field)
    for key, name in MODELS.items():
        for position, record in enumerate(body.get(key, [])):
            found += violations(record, name, f"{key}[{position}].")
    return found


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    server = make_emulator(SCALE)
    EmulatorControl(server.url).advance(
        days=2,
        changes={"zendesk.tickets": {"updated": 40, "deleted": 6}, "zendesk.users": {"deleted": 3}},
    )
    return server


def get(server: EmulatorServer, path: str, **params: Any) -> dict[str, Any]:
    response = requests.get(f"{server.url}/zendesk{path}", params=params, auth=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


REQUESTS = [
    ("cursor_export", "/api/v2/incremental/{r}/cursor.json", {"start_time": 0}),
    ("time_export", "/api/v2/incremental/{r}.json", {"start_time": 0, "per_page": 50}),
    ("cursor_list", "/api/v2/{r}.json", {"page[size]": 100}),
    ("offset_list", "/api/v2/{r}.json", {"per_page": 50, "page": 2}),
]


@pytest.mark.parametrize("resource", ["tickets", "users"])
@pytest.mark.parametrize(("shape", "path", "params"), REQUESTS)
def test_every_response_validates_against_zendesks_models(
    server: EmulatorServer, resource: str, shape: str, path: str, params: dict[str, Any]
) -> None:
    include = "users,groups,organizations" if resource == "tickets" else "groups"
    body = get(server, path.format(r=resource), include=include, **params)

    assert body[resource], "an empty page proves nothing"
    assert envelope_violations(body, shape, resource) == []


def test_side_loads_and_show_endpoints_validate(server: EmulatorServer) -> None:
    exported = get(server, "/api/v2/incremental/users.json", start_time=0, include="groups")
    ticket = get(server, "/api/v2/tickets/7.json")["ticket"]
    user = get(server, f"/api/v2/users/{ticket['requester_id']}.json")["user"]
    me = get(server, "/api/v2/users/me.json")["user"]

    assert exported["groups"]
    assert violations(ticket, "Ticket") == []
    assert violations(user, "User") == violations(me, "User") == []


def test_the_validator_catches_a_wrong_type_an_unknown_field_and_a_missing_one(
    server: EmulatorServer,
) -> None:
    ticket = get(server, "/api/v2/tickets/7.json")["ticket"]
    user = get(server, "/api/v2/users/me.json")["user"]

    assert violations({**ticket, "id": "7"}, "Ticket") == ["id: '7' is not of type integer"]
    wrong_flag = violations({**ticket, "is_public": 1}, "Ticket")
    assert wrong_flag == ["is_public: 1 is not of type boolean"]
    assert violations({**ticket, "created_at": "yesterday"}, "Ticket") != []
    assert violations({**ticket, "via": {"channel": 5}}, "Ticket") != []
    assert violations({**ticket, "priority_score": 3}, "Ticket") == [
        "priority_score: not a field of Ticket"
    ]
    missing = {key: value for key, value in ticket.items() if key != "requester_id"}
    assert violations(missing, "Ticket") == ["requester_id: mandatory but missing"]
    assert violations({**user, "name": None}, "User") == ["name: mandatory but null"]
    assert violations({**user, "tags": [1]}, "User") == ["tags: [1] is not of type array"]
    body = get(server, "/api/v2/incremental/tickets.json", start_time=0)
    assert envelope_violations({**body, "end_time": "soon"}, "time_export", "tickets") != []
    assert envelope_violations({**body, "cursor": "x"}, "time_export", "tickets") == [
        "cursor: not in the documented response"
    ]
