"""Every documented search and listing parameter is honoured or refused, never ignored.

https://developers.hubspot.com/docs/guides/api/crm/search (filters, operators, sorts and
their limits) and https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/guide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from emulators.server import Emulator, EmulatorServer
from tests.emulators.test_hubspot import (
    TOKEN,
    assert_hubspot_error,
    call,
    list_all,
    objects_url,
    search_all,
)

CONTACT_PROPERTIES = "email,firstname,lastname,phone,lifecyclestage,createdate,lastmodifieddate"
DEAL_PROPERTIES = "amount,dealname,dealstage,createdate,hs_lastmodifieddate"


@pytest.fixture(scope="module")
def hub() -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        Emulator(seed=5, scale={"hubspot.contacts": 300, "hubspot.deals": 200})
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def contacts(hub) -> list[dict[str, Any]]:
    return list(list_all(hub, "contacts", properties=CONTACT_PROPERTIES))


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


def searched(hub, kind: str, *groups: list[dict[str, Any]], **body: Any) -> list[str]:
    payload = {"filterGroups": [{"filters": g} for g in groups], "limit": 200, **body}
    return ids(search_all(hub, kind, payload))


def f(name: str, operator: str, **rest: Any) -> dict[str, Any]:
    return {"propertyName": name, "operator": operator, **rest}


Pick = Callable[[dict[str, str | None]], bool]
CASES: list[tuple[dict[str, Any], Pick]] = [
    (f("lifecyclestage", "EQ", value="customer"), lambda p: p["lifecyclestage"] == "customer"),
    (f("lifecyclestage", "NEQ", value="customer"), lambda p: p["lifecyclestage"] != "customer"),
    (
        f("lifecyclestage", "IN", values=["lead", "subscriber"]),
        lambda p: p["lifecyclestage"] in ("lead", "subscriber"),
    ),
    (
        f("lifecyclestage", "NOT_IN", values=["customer"]),
        lambda p: p["lifecyclestage"] != "customer",
    ),
    (f("phone", "HAS_PROPERTY"), lambda p: p["phone"] is not None),
    (f("phone", "NOT_HAS_PROPERTY"), lambda p: p["phone"] is None),
    (f("email", "CONTAINS_TOKEN", value="*example.org"), lambda p: "example.org" in p["email"]),
    (
        f("email", "NOT_CONTAINS_TOKEN", value="example.org"),
        lambda p: "example.org" not in p["email"],
    ),
    (f("firstname", "GTE", value="M"), lambda p: p["firstname"].lower() >= "m"),
    (
        f("createdate", "BETWEEN", value="2025-03-01T00:00:00Z", highValue="2025-06-01T00:00:00Z"),
        lambda p: "2025-03-01" <= p["createdate"] <= "2025-06-01",
    ),
    (
        f("createdate", "LT", value=str(1_740_787_200_000)),  # 2025-03-01 in milliseconds
        lambda p: p["createdate"] < "2025-03-01",
    ),
]


@pytest.mark.parametrize(("rule", "pick"), CASES, ids=lambda c: str(c)[:40])
def test_every_operator_selects_what_it_says(hub, contacts, rule, pick: Pick) -> None:
    truth = [r["id"] for r in contacts if pick(r["properties"])]
    assert 0 < len(truth) < len(contacts), "a filter worth testing keeps some, drops some"
    assert sorted(searched(hub, "contacts", [rule]), key=int) == truth


def test_numbers_compare_as_numbers(hub) -> None:
    deals = list(list_all(hub, "deals", properties=DEAL_PROPERTIES))
    truth = [d["id"] for d in deals if float(d["properties"]["amount"]) > 9000]
    found = searched(hub, "deals", [f("amount", "GT", value="9000")])
    assert sorted(found, key=int) == truth and truth


def test_groups_are_ored_and_filters_anded(hub, contacts) -> None:
    found = searched(
        hub,
        "contacts",
        [f("lifecyclestage", "EQ", value="lead"), f("phone", "HAS_PROPERTY")],
        [f("lifecyclestage", "EQ", value="subscriber")],
    )
    truth = [
        r["id"]
        for r in contacts
        if (r["properties"]["lifecyclestage"] == "lead" and r["properties"]["phone"])
        or r["properties"]["lifecyclestage"] == "subscriber"
    ]
    assert sorted(found, key=int) == truth and truth


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_any_property_sorts(hub, contacts, direction: str) -> None:
    sort = [{"propertyName": "email", "direction": direction}]
    found = searched(hub, "contacts", sorts=sort, properties=["email"])
    emails = [r["properties"]["email"] for r in contacts]
    by_id = {r["id"]: r["properties"]["email"] for r in contacts}
    assert [by_id[i] for i in found] == sorted(emails, reverse=direction == "DESCENDING")


def test_search_returns_the_properties_asked_for(hub) -> None:
    body = call(
        "POST", f"{objects_url(hub, 'contacts')}/search", json={"properties": ["phone"], "limit": 1}
    ).json()
    assert set(body["results"][0]["properties"]) == {
        "phone",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
    }


def groups_of(*sizes: int) -> dict[str, Any]:
    one = f("email", "HAS_PROPERTY")
    return {"filterGroups": [{"filters": [one] * n} for n in sizes]}


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (groups_of(1, 1, 1, 1, 1), True),
        (groups_of(1, 1, 1, 1, 1, 1), False),  # six groups
        (groups_of(6), True),
        (groups_of(7), False),  # seven filters in a group
        (groups_of(6, 6, 6), True),
        (groups_of(6, 6, 6, 1), False),  # nineteen filters in all
        ({"filterGroups": [{"filters": [f("no_such_property", "EQ", value="x")]}]}, False),
        ({"filterGroups": [{"filters": [f("email", "SOUNDS_LIKE", value="x")]}]}, False),
        ({"filterGroups": [{"filters": [f("email", "IN", value="x")]}]}, False),
        ({"filterGroups": [{"filters": [f("createdate", "BETWEEN", value="1")]}]}, False),
        ({"filterGroups": [{"filters": [f("email", "EQ")]}]}, False),
        ({"sorts": [{"propertyName": "no_such_property"}]}, False),
        ({"sorts": [{"propertyName": "email", "direction": "SIDEWAYS"}]}, False),
        ({"filters": [f("email", "EQ", value="x")]}, False),  # not a field of the body
        ({"limit": 0}, False),
        ({"after": "soon"}, False),
    ],
)
def test_search_bodies_are_accepted_or_refused_as_hubspot_does(hub, body, accepted) -> None:
    response = call("POST", f"{objects_url(hub, 'contacts')}/search", json=body)
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert_hubspot_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("name", ["propertiesWithHistory", "associations"])
def test_listing_parameters_not_served_are_refused_not_ignored(hub, name: str) -> None:
    response = call("GET", objects_url(hub, "contacts"), params={name: "email"})
    body = assert_hubspot_error(response, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["in"] == name


def test_search_takes_five_requests_a_second(make_emulator) -> None:
    """https://developers.hubspot.com/docs/guides/api/crm/search#limitations"""
    url = f"{objects_url(make_emulator(), 'deals')}/search"
    answers = [requests.post(url, headers=TOKEN, json={"limit": 1}, timeout=10) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    refused = answers[5]
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "SECONDLY"
    assert refused.json()["errorType"] == "RATE_LIMIT"
    assert call("POST", url, json={"limit": 1}).status_code == 200
