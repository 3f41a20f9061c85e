"""Every Harvest emulator response validates against Harvest's documented objects, strictly.

The schemas below are written from Harvest's reference pages (one URL per object) and agree
with the OpenAPI description generated from those pages (jolicode/harvest-php-api,
`Resources/harvest-openapi.yaml`). Strict: every documented attribute is present, none is
undocumented, and each has its documented type (integer ids, ISO 8601 UTC datetimes,
`YYYY-MM-DD` dates, decimals as JSON numbers). Harvest documents no nullability; the fields
marked nullable are those Harvest's own examples show as null.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer

HARVEST = demo_credentials(["harvest"])["harvest"]
HEADERS = {
    "Authorization": f"Bearer {HARVEST['access_token']}",
    "Harvest-Account-Id": HARVEST["account_id"],
    "User-Agent": "lifeboat tests (ops@example.com)",
}
SCALE = {
    "harvest.clients": 40,
    "harvest.contacts": 90,
    "harvest.projects": 60,
    "harvest.invoices": 240,
}
DOCS = "https://help.getharvest.com/api-v2"

# A field is (type, nullable); a type is a JSON type, "date", "datetime", "url", an enum
# (a tuple of values), a nested schema (a dict) or a list of one type (an array of it).
Field = tuple[Any, bool]
NAMED = {"id": ("integer", False), "name": ("string", False)}
SCHEMAS: dict[str, dict[str, Field]] = {
    # f"{DOCS}/clients-api/clients/clients/#the-client-object"
    "client": {
        "id": ("integer", False),
        "name": ("string", False),
        "is_active": ("boolean", False),
        "address": ("string", True),
        "statement_key": ("string", False),
        "currency": ("string", False),
        "created_at": ("datetime", False),
        "updated_at": ("datetime", False),
    },
    # f"{DOCS}/clients-api/clients/contacts/#the-contact-object"
    "contact": {
        "id": ("integer", False),
        "client": (NAMED, False),
        "title": ("string", True),
        "first_name": ("string", False),
        "last_name": ("string", True),
        "email": ("string", True),
        "phone_office": ("string", True),
        "phone_mobile": ("string", True),
        "fax": ("string", True),
        "created_at": ("datetime", False),
        "updated_at": ("datetime", False),
    },
    # f"{DOCS}/projects-api/projects/projects/#the-project-object"
    "project": {
        "id": ("integer", False),
        "client": ({**NAMED, "currency": ("string", False)}, False),
        "name": ("string", False),
        "code": ("string", True),
        "is_active": ("boolean", False),
        "is_billable": ("boolean", False),
        "is_fixed_fee": ("boolean", False),
        "bill_by": ("string", False),
        "hourly_rate": ("number", True),
        "budget": ("number", True),
        "budget_by": ("string", False),
        "budget_is_monthly": ("boolean", False),
        "notify_when_over_budget": ("boolean", False),
        "over_budget_notification_percentage": ("number", True),
        "over_budget_notification_date": ("date", True),
        "show_budget_to_all": ("boolean", False),
        "cost_budget": ("number", True),
        "cost_budget_include_expenses": ("boolean", False),
        "fee": ("number", True),
        "notes": ("string", True),
        "starts_on": ("date", True),
        "ends_on": ("date", True),
        "created_at": ("datetime", False),
        "updated_at": ("datetime", False),
    },
    # f"{DOCS}/invoices-api/invoices/invoices/#the-invoice-line-item-object"
    "line_item": {
        "id": ("integer", False),
        "project": ({**NAMED, "code": ("string", True)}, True),
        "kind": ("string", False),
        "description": ("string", True),
        "quantity": ("number", False),
        "unit_price": ("number", False),
        "amount": ("number", False),
        "taxed": ("boolean", False),
        "taxed2": ("boolean", False),
    },
    # f"{DOCS}/users-api/users/users/#the-user-object"
    "user": {
        "id": ("integer", False),
        "first_name": ("string", False),
        "last_name": ("string", False),
        "email": ("string", False),
        "telephone": ("string", True),
        "timezone": ("string", False),
        "has_access_to_all_future_projects": ("boolean", False),
        "is_contractor": ("boolean", False),
        "is_active": ("boolean", False),
        "weekly_capacity": ("integer", False),
        "default_hourly_rate": ("number", True),
        "cost_rate": ("number", True),
        "roles": (["string"], False),
        "access_roles": ([("administrator", "manager", "member")], False),
        "avatar_url": ("url", False),
        "created_at": ("datetime", False),
        "updated_at": ("datetime", False),
    },
}
# f"{DOCS}/invoices-api/invoices/invoices/#the-invoice-object"
SCHEMAS["invoice"] = {
    "id": ("integer", False),
    "client": (NAMED, False),
    "line_items": ([SCHEMAS["line_item"]], False),
    "estimate": ({"id": ("integer", False)}, True),
    "retainer": ({"id": ("integer", False)}, True),
    "creator": (NAMED, True),
    "client_key": ("string", False),
    "number": ("string", False),
    "purchase_order": ("string", True),
    "amount": ("number", False),
    "due_amount": ("number", False),
    "tax": ("number", True),
    "tax_amount": ("number", True),
    "tax2": ("number", True),
    "tax2_amount": ("number", True),
    "discount": ("number", True),
    "discount_amount": ("number", True),
    "subject": ("string", True),
    "notes": ("string", True),
    "currency": ("string", False),
    "state": (("draft", "open", "paid", "closed"), False),
    "period_start": ("date", True),
    "period_end": ("date", True),
    "issue_date": ("date", False),
    "due_date": ("date", True),
    "payment_term": ("string", True),
    "payment_options": ([("ach", "credit_card", "paypal")], False),
    "sent_at": ("datetime", True),
    "paid_at": ("datetime", True),
    "paid_date": ("date", True),
    "closed_at": ("datetime", True),
    "recurring_invoice_id": ("integer", True),
    "created_at": ("datetime", False),
    "updated_at": ("datetime", False),
}
# f"{DOCS}/introduction/overview/pagination/": `page`, `next_page` and `previous_page` are
# null on the middle pages of a cursor-paged list.
LINKS = {
    "first": ("url", False),
    "next": ("url", True),
    "previous": ("url", True),
    "last": ("url", False),
}
ENVELOPE = {
    "per_page": ("integer", False),
    "total_pages": ("integer", False),
    "total_entries": ("integer", False),
    "next_page": ("integer", True),
    "previous_page": ("integer", True),
    "page": ("integer", True),
    "links": (LINKS, False),
}
LISTS = {"clients": "client", "contacts": "contact", "projects": "project", "invoices": "invoice"}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
JSON_TYPES = {"string": str, "boolean": bool, "object": dict}


def problems(value: Any, kind: Any, where: str) -> list[str]:
    """What is wrong with one value against its documented type (nothing: [])."""
    if isinstance(kind, dict):
        return validate(value, kind, where) if isinstance(value, dict) else [f"{where}: object"]
    if isinstance(kind, list):
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [p for n, item in enumerate(value) for p in problems(item, kind[0], f"{where}[{n}]")]
    if isinstance(kind, tuple):
        return [] if value in kind else [f"{where}: {value!r} is not one of {kind}"]
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "datetime":
        ok = isinstance(value, str) and DATETIME.match(value) is not None
    elif kind == "date":
        ok = isinstance(value, str) and DATE.match(value) is not None
    elif kind == "url":
        ok = isinstance(value, str) and value.startswith(("http://", "https://"))
    else:
        ok = isinstance(value, JSON_TYPES[kind])
    return [] if ok else [f"{where}: {value!r} is not {kind}"]


def validate(record: Any, schema: dict[str, Field], where: str = "$") -> list[str]:
    """Every way `record` departs from `schema`: missing, undocumented or mistyped fields."""
    if not isinstance(record, dict):
        return [f"{where}: expected an object"]
    found = [f"{where}.{name}: undocumented field" for name in sorted(set(record) - set(schema))]
    for name, (kind, nullable) in schema.items():
        if name not in record:
            found.append(f"{where}.{name}: missing")
        elif record[name] is None:
            found += [] if nullable else [f"{where}.{name}: null"]
        else:
            found += problems(record[name], kind, f"{where}.{name}")
    return found


def list_schema(resource: str) -> dict[str, Field]:
    return {resource: ([SCHEMAS[LISTS[resource]]], False), **ENVELOPE}


@pytest.fixture(scope="module")
def server() -> Any:
    running = EmulatorServer(Emulator(seed=7, scale=SCALE)).start()
    control = EmulatorControl(running.url)
    # Records updated, archived, paid and deleted over a month, so every shape shows up.
    control.advance(days=30)
    yield running
    running.stop()


def pages(server: EmulatorServer, resource: str) -> list[dict[str, Any]]:
    url = f"{server.url}/harvest/v2/{resource}?per_page=25"
    bodies = []
    while url:
        response = requests.get(url, headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        url = bodies[-1]["links"]["next"]
    return bodies


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_every_page_of_every_list_validates(server: EmulatorServer, resource: str) -> None:
    bodies = pages(server, resource)

    assert len(bodies) > 2
    for body in bodies:
        assert validate(body, list_schema(resource)) == []


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_retrieved_records_validate(server: EmulatorServer, resource: str) -> None:
    listed = pages(server, resource)[0][resource]

    for record in listed[:10]:
        url = f"{server.url}/harvest/v2/{resource}/{record['id']}"
        retrieved = requests.get(url, headers=HEADERS, timeout=10).json()
        assert retrieved == record
        assert validate(retrieved, SCHEMAS[LISTS[resource]]) == []


def test_the_authenticated_user_validates(server: EmulatorServer) -> None:
    me = requests.get(f"{server.url}/harvest/v2/users/me", headers=HEADERS, timeout=10).json()

    assert validate(me, SCHEMAS["user"]) == []


def test_the_data_covers_every_invoice_state_and_nullable_shape(server: EmulatorServer) -> None:
    invoices = [r for body in pages(server, "invoices") for r in body["invoices"]]

    assert {r["state"] for r in invoices} == {"draft", "open", "paid", "closed"}
    assert {r["tax"] is None for r in invoices} == {True, False}
    assert all(r["due_amount"] == 0 for r in invoices if r["state"] == "paid")
    assert all(r["paid_at"] <= r["updated_at"] for r in invoices if r["paid_at"])


def test_the_validator_rejects_a_wrong_type_an_undocumented_field_and_a_gap(
    server: EmulatorServer,
) -> None:
    invoice = pages(server, "invoices")[0]["invoices"][0]

    assert validate({**invoice, "id": str(invoice["id"])}, SCHEMAS["invoice"]) == [
        f"$.id: '{invoice['id']}' is not integer"
    ]
    assert validate({**invoice, "voided": True}, SCHEMAS["invoice"]) == [
        "$.voided: undocumented field"
    ]
    missing = {k: v for k, v in invoice.items() if k != "due_date"}
    assert validate(missing, SCHEMAS["invoice"]) == ["$.due_date: missing"]
    assert validate({**invoice, "created_at": "2026-01-01 10:00"}, SCHEMAS["invoice"]) != []
    assert validate({**invoice, "state": "void"}, SCHEMAS["invoice"]) != []
    bad_item = {**invoice["line_items"][0], "quantity": "2"}
    assert validate({**invoice, "line_items": [bad_item]}, SCHEMAS["invoice"]) == [
        "$.line_items[0].quantity: '2' is not number"
    ]


def test_the_validator_catches_a_drifted_response(make_emulator) -> None:
    drifted = make_emulator({"harvest.clients": 5})
    EmulatorControl(drifted.url).fault(
        "harvest", "drift", add={"archived_on": "2026-01-02"}, change={"is_active": "yes"}
    )

    body = requests.get(f"{drifted.url}/harvest/v2/clients", headers=HEADERS, timeout=10).json()

    found = validate(body, list_schema("clients"))
    assert "$.clients[0].archived_on: undocumented field" in found
    assert "$.clients[0].is_active: 'yes' is not boolean" in found
