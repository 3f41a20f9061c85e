"""The HubSpot emulator over real HTTP: paging, search and its cap, changes, errors, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer

DEMO = demo_credentials(["hubspot", "stripe"])
TOKEN = {"Authorization": f"Bearer {DEMO['hubspot']['access_token']}"}
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}


SCALE = 437


@pytest.fixture(scope="module")
def hub() -> Iterator[EmulatorServer]:
    """One emulator for the tests that never move its clock (each server costs a shutdown)."""
    server = EmulatorServer(
        Emulator(seed=42, scale={f"hubspot.{kind}": SCALE for kind in MODIFIED})
    ).start()
    yield server
    server.stop()


@pytest.fixture
def faults(hub: EmulatorServer) -> Iterator[EmulatorControl]:
    control = EmulatorControl(hub.url)
    yield control
    control.clear_faults("hubspot")


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request, sent again while HubSpot's per-second search limit refuses it.

    The search endpoints allow five requests a second per account; tests that search in
    quick succession wait for the window to let them in, as a well-behaved client does.
    """
    deadline = time.monotonic() + 10
    while True:
        response = requests.request(method, url, headers=TOKEN, timeout=10, **kwargs)
        refused = response.status_code == 429 and "SECONDLY" in response.text
        if not refused or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def post_search(server: EmulatorServer, kind: str, body: Any) -> requests.Response:
    return call("POST", f"{objects_url(server, kind)}/search", json=body)


def objects_url(server: EmulatorServer, kind: str) -> str:
    return f"{server.url}/hubspot/crm/v3/objects/{kind}"


def list_all(server: EmulatorServer, kind: str, **params: Any) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        query = {"limit": 100, **params}
        if after:
            query["after"] = after
        response = requests.get(objects_url(server, kind), headers=TOKEN, params=query, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        yield from body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return


def changed_since(kind: str, millis: int) -> dict[str, Any]:
    return {
        "filterGroups": [
            {"filters": [{"propertyName": MODIFIED[kind], "operator": "GTE", "value": str(millis)}]}
        ],
        "sorts": [{"propertyName": MODIFIED[kind], "direction": "ASCENDING"}],
        "limit": 200,
    }


def search_all(server: EmulatorServer, kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = {**body, **({"after": after} if after else {})}
        response = post_search(server, kind, page)
        assert response.status_code == 200, response.text
        payload = response.json()
        found.extend(payload["results"])
        after = payload.get("paging", {}).get("next", {}).get("after")
        if not after:
            return found


def assert_hubspot_error(response: requests.Response, status: int, category: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["message"]
    assert len(body["correlationId"]) == 36
    return body


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals"])
def test_listing_pages_through_every_record_exactly_once(hub: EmulatorServer, kind: str) -> None:
    records = list(list_all(hub, kind))
    ids = [r["id"] for r in records]
    assert len(ids) == SCALE
    assert len(set(ids)) == SCALE
    assert ids == sorted(ids, key=int)
    assert all(r["archived"] is False for r in records)
    assert all(isinstance(v, str | None) for r in records for v in r["properties"].values())
    assert all(r["properties"][MODIFIED[kind]] == r["updatedAt"] for r in records)


def test_properties_parameter_chooses_the_returned_properties(hub: EmulatorServer) -> None:
    response = requests.get(
        objects_url(hub, "contacts"),
        headers=TOKEN,
        timeout=10,
        params={"limit": 3, "properties": "email,lifecyclestage,company"},
    )
    props = response.json()["results"][0]["properties"]
    assert {"email", "lifecyclestage", "company", "hs_object_id", "createdate"} <= set(props)
    assert "firstname" not in props


def test_search_pages_through_every_record_in_modification_order(make_emulator) -> None:
    server = make_emulator({"hubspot.contacts": 650})
    EmulatorControl(server.url).advance(days=3)
    found = search_all(server, "contacts", changed_since("contacts", 0))
    listed = {r["id"] for r in list_all(server, "contacts")}
    assert [r["id"] for r in found if r["id"] in listed] == [r["id"] for r in found]
    assert {r["id"] for r in found} == listed and len(found) == len(listed)
    keys = [(r["properties"]["lastmodifieddate"], int(r["id"])) for r in found]
    assert keys == sorted(keys)


def test_search_total_counts_the_matching_records(hub: EmulatorServer) -> None:
    body = {**changed_since("deals", 0), "limit": 5}
    response = post_search(hub, "deals", body)
    assert response.json()["total"] == SCALE
    assert len(response.json()["results"]) == 5


def test_page_size_limits_are_enforced_with_hubspot_errors(hub: EmulatorServer) -> None:
    url = objects_url(hub, "contacts")
    too_big = requests.get(url, headers=TOKEN, params={"limit": 101}, timeout=10)
    body = assert_hubspot_error(too_big, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["in"] == "limit"
    assert requests.get(url, headers=TOKEN, params={"limit": 100}, timeout=10).status_code == 200
    search_too_big = post_search(hub, "contacts", {"limit": 201})
    assert_hubspot_error(search_too_big, 400, "VALIDATION_ERROR")
    ok = post_search(hub, "contacts", {"limit": 200})
    assert len(ok.json()["results"]) == 200


@pytest.mark.parametrize(
    ("method", "suffix", "payload", "params"),
    [
        ("GET", "", None, {"archived": "maybe"}),
        ("GET", "", None, {"after": "not-a-cursor"}),
        ("POST", "/search", {"sorts": ["createdate", "-hs_object_id"]}, None),
        (
            "POST",
            "/search",
            {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": "lastmodifieddate", "operator": "SOONER", "value": "1"}
                        ]
                    }
                ]
            },
            None,
        ),
        ("POST", "/search", {"filterGroups": [{"filters": []}] * 6}, None),
    ],
)
def test_bad_parameters_get_hubspots_400(hub, method, suffix, payload, params) -> None:
    response = call(method, objects_url(hub, "contacts") + suffix, json=payload, params=params)
    assert_hubspot_error(response, 400, "VALIDATION_ERROR")


def test_search_stops_at_ten_thousand_results_per_query(make_emulator) -> None:
    server = make_emulator({"hubspot.contacts": 10_050})
    url = f"{objects_url(server, 'contacts')}/search"
    body = changed_since("contacts", 0)
    last = call("POST", url, json={**body, "after": "9990"}).json()
    assert last["total"] == 10_050
    assert len(last["results"]) == 10
    assert last["paging"]["next"]["after"] == "10000"
    past = call("POST", url, json={**body, "after": "10000"})
    assert_hubspot_error(past, 400, "VALIDATION_ERROR")
    # Re-querying from the last modification time seen gets past the cap.
    seen = last["results"][-1]["properties"]["lastmodifieddate"]
    again = call(
        "POST",
        url,
        json={
            **changed_since("contacts", 0),
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": seen}
                    ]
                }
            ],
        },
    ).json()
    assert again["total"] == 51
    assert again["results"][0]["id"] == last["results"][-1]["id"]


def test_changes_after_the_clock_moves_are_all_that_search_returns(make_emulator) -> None:
    server = make_emulator({"hubspot.contacts": 400})
    control = EmulatorControl(server.url)
    before = control.state()["now"]
    control.advance(days=1, changes={"hubspot.contacts": {"updated": 7, "deleted": 3}})
    changed = search_all(server, "contacts", changed_since("contacts", before * 1000 + 1))
    created = control.state()["datasets"]["hubspot.contacts"]["created"] - 400
    assert created > 0
    assert len(changed) == 7 + created
    assert all(r["properties"]["lastmodifieddate"] > "2026-01-01T00:00:00.000Z" for r in changed)
    archived = list(list_all(server, "contacts", archived="true"))
    assert len(archived) == 3
    assert all(r["archived"] is True and r["archivedAt"] for r in archived)
    live = {r["id"] for r in list_all(server, "contacts")}
    assert not live & {r["id"] for r in archived}
    assert len(live) == 400 + created - 3


def test_contacts_share_emails_with_stripe_customers(hub: EmulatorServer) -> None:
    stripe = requests.get(
        f"{hub.url}/stripe/v1/customers",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {DEMO['stripe']['api_key']}"},
        timeout=10,
    ).json()
    stripe_emails = {c["email"] for c in stripe["data"]}
    contacts = {r["properties"]["email"] for r in list_all(hub, "contacts")}
    shared = stripe_emails & contacts
    # Most customers are also in the CRM, but the CRM also holds leads who never paid.
    assert len(shared) > len(stripe_emails) // 3
    assert contacts - stripe_emails


def test_same_seed_gives_the_same_records(hub: EmulatorServer, make_emulator) -> None:
    other = make_emulator({f"hubspot.{kind}": SCALE for kind in MODIFIED})
    assert list(list_all(hub, "deals")) == list(list_all(other, "deals"))


def test_missing_credentials_get_hubspots_401(hub: EmulatorServer) -> None:
    response = requests.get(objects_url(hub, "contacts"), timeout=10)
    body = assert_hubspot_error(response, 401, "INVALID_AUTHENTICATION")
    assert "Authentication credentials not found" in body["message"]


def test_lockout_renders_hubspots_auth_errors(hub, faults) -> None:
    url = objects_url(hub, "contacts")
    faults.fault("hubspot", "lockout")
    assert_hubspot_error(
        requests.get(url, headers=TOKEN, timeout=10), 401, "INVALID_AUTHENTICATION"
    )
    faults.fault("hubspot", "lockout", status=403)
    body = assert_hubspot_error(requests.get(url, headers=TOKEN, timeout=10), 403, "MISSING_SCOPES")
    assert "scopes" in body["message"]


def test_rate_limit_renders_hubspots_429(hub, faults) -> None:
    faults.fault("hubspot", "rate_limit", retry_after=2)
    response = requests.get(objects_url(hub, "contacts"), headers=TOKEN, timeout=10)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    body = response.json()
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    faults.fault("hubspot", "rate_limit", policy="DAILY")
    daily = requests.get(objects_url(hub, "contacts"), headers=TOKEN, timeout=10)
    assert daily.json()["policyName"] == "DAILY"
    assert daily.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_outage_renders_gateway_and_internal_errors(hub, faults) -> None:
    url = objects_url(hub, "contacts")
    faults.fault("hubspot", "outage")
    response = requests.get(url, headers=TOKEN, timeout=10)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "text/html"
    faults.fault("hubspot", "outage", status=500)
    response = requests.get(url, headers=TOKEN, timeout=10)
    assert response.status_code == 500
    assert response.json()["status"] == "error"


def test_empty_and_partial_listings(hub, faults) -> None:
    full = len(list(list_all(hub, "contacts")))
    faults.fault("hubspot", "partial", share=0.5)
    partial = len(list(list_all(hub, "contacts")))
    searched = search_all(hub, "contacts", changed_since("contacts", 0))
    assert full * 0.3 < partial < full * 0.7
    assert len(searched) == partial
    faults.fault("hubspot", "empty")
    assert list(list_all(hub, "contacts")) == []
    url = f"{objects_url(hub, 'contacts')}/search"
    body = call("POST", url, json={}).json()
    assert body["results"] == [] and body["total"] == 0


def test_malformed_and_slow_bodies(hub, faults) -> None:
    url = objects_url(hub, "contacts")
    faults.fault("hubspot", "malformed")
    response = requests.get(url, headers=TOKEN, timeout=10)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    faults.fault("hubspot", "slow", delay=0.05)
    assert len(requests.get(url, headers=TOKEN, timeout=10).json()["results"]) == 10


def test_one_object_by_id_and_archived_ones_only_when_asked(make_emulator) -> None:
    server = make_emulator({"hubspot.deals": 20})
    EmulatorControl(server.url).advance(days=1, changes={"hubspot.deals": {"deleted": 1}})
    archived = next(list_all(server, "deals", archived="true"))
    url = f"{objects_url(server, 'deals')}/{archived['id']}"
    gone = requests.get(url, headers=TOKEN, timeout=10)
    assert_hubspot_error(gone, 404, "OBJECT_NOT_FOUND")
    found = requests.get(url, headers=TOKEN, params={"archived": "true"}, timeout=10).json()
    assert found["id"] == archived["id"] and found["archived"] is True
    live = next(list_all(server, "deals"))
    one = requests.get(f"{objects_url(server, 'deals')}/{live['id']}", headers=TOKEN, timeout=10)
    assert one.json() == live
