"""The Harvest emulator over real HTTP: paging, incremental reads, filters, order, deletions.

Harvest publishes no official Python client (its API page lists only community libraries:
https://help.getharvest.com/api-v2/introduction/overview/code-samples/), so these tests drive
the emulator with `requests`, the way Harvest's own curl examples do, and follow the page links
Harvest hands out. Authentication, limits and faults are in `test_harvest_auth.py`; the record
schemas in `test_harvest_schema.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.harvest import decode_cursor
from emulators.server import EmulatorServer

HARVEST = demo_credentials(["harvest"])["harvest"]
HEADERS = {
    "Authorization": f"Bearer {HARVEST['access_token']}",
    "Harvest-Account-Id": HARVEST["account_id"],
    "User-Agent": "lifeboat tests (ops@example.com)",
}
SCALE = {
    "harvest.clients": 30,
    "harvest.contacts": 70,
    "harvest.projects": 45,
    "harvest.invoices": 160,
}
RESOURCES = ("clients", "contacts", "projects", "invoices")


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(server.url)


def get(server: EmulatorServer, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{server.url}/harvest{path}", params=params, headers=HEADERS, timeout=10)


def follow(server: EmulatorServer, resource: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a list, following `links.next` as Harvest asks clients to."""
    response = get(server, f"/v2/{resource}", **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if body["links"]["next"] is None:
            return
        assert body["links"]["next"].startswith(f"{server.url}/harvest/v2/{resource}?")
        response = requests.get(body["links"]["next"], headers=HEADERS, timeout=10)


def listed(server: EmulatorServer, resource: str, **params: Any) -> list[dict[str, Any]]:
    return [record for body in follow(server, resource, **params) for record in body[resource]]


def stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("resource", RESOURCES)
def test_following_links_next_lists_every_record_once_newest_first(
    server: EmulatorServer, resource: str
) -> None:
    records = listed(server, resource, per_page=13)

    ids = [record["id"] for record in records]
    assert len(ids) == SCALE[f"harvest.{resource}"]
    assert len(set(ids)) == len(ids)
    # Harvest lists newest first (invoices by issue date, newest first).
    created = [(record["created_at"], record["id"]) for record in records]
    assert created == sorted(created, reverse=True)
    if resource == "invoices":
        issued = [record["issue_date"] for record in records]
        assert issued == sorted(issued, reverse=True)


@pytest.mark.parametrize("resource", RESOURCES)
def test_paging_by_page_number_matches_the_links(server: EmulatorServer, resource: str) -> None:
    first = get(server, f"/v2/{resource}", per_page=13).json()
    by_page = []
    for number in range(1, first["total_pages"] + 1):
        body = get(server, f"/v2/{resource}", per_page=13, page=number).json()
        assert body["page"] == number
        by_page += [record["id"] for record in body[resource]]

    assert by_page == [record["id"] for record in listed(server, resource, per_page=13)]
    assert first["total_entries"] == len(by_page)
    assert first["total_pages"] == -(-len(by_page) // 13)


def test_the_envelope_numbers_pages_as_harvest_documents(server: EmulatorServer) -> None:
    bodies = list(follow(server, "clients", per_page=8))  # 30 clients: 4 pages

    assert [len(body["clients"]) for body in bodies] == [8, 8, 8, 6]
    assert [body["per_page"] for body in bodies] == [8] * 4
    assert {(body["total_pages"], body["total_entries"]) for body in bodies} == {(4, 30)}
    # Cursor pages carry page numbers only on the first and the last page.
    assert [body["page"] for body in bodies] == [1, None, None, 4]
    assert [body["next_page"] for body in bodies] == [2, None, None, None]
    assert [body["previous_page"] for body in bodies] == [None, None, None, 3]
    first, middle, last = bodies[0]["links"], bodies[1]["links"], bodies[-1]["links"]
    assert first["previous"] is None and last["next"] is None
    assert first["first"] == last["first"]
    assert parse_qs(urlsplit(first["first"]).query) == {
        "page": ["1"],
        "per_page": ["8"],
        "ref": ["first"],
    }
    assert parse_qs(urlsplit(first["last"]).query)["page"] == ["4"]
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    assert decode_cursor(cursor) == ("after", bodies[0]["clients"][-1]["id"])
    # The previous link of a page leads back to the page before it.
    previous = requests.get(middle["previous"], headers=HEADERS, timeout=10).json()
    assert [c["id"] for c in previous["clients"]] == [c["id"] for c in bodies[0]["clients"]]


def test_invoices_page_by_number_with_a_default_of_100(server: EmulatorServer) -> None:
    bodies = list(follow(server, "invoices"))

    assert [len(body["invoices"]) for body in bodies] == [100, 60]
    assert [body["page"] for body in bodies] == [1, 2]
    assert parse_qs(urlsplit(bodies[0]["links"]["next"]).query) == {
        "page": ["2"],
        "per_page": ["100"],
    }


def test_lists_of_clients_default_to_2000_a_page(server: EmulatorServer) -> None:
    body = get(server, "/v2/contacts").json()

    assert body["per_page"] == 2000
    assert len(body["contacts"]) == 70
    assert body["links"]["next"] is None


@pytest.mark.parametrize("per_page", ["0", "2001", "ten"])
def test_a_page_size_outside_1_to_2000_is_refused(server: EmulatorServer, per_page: str) -> None:
    response = get(server, "/v2/clients", per_page=per_page)

    assert response.status_code == 422
    assert "per_page" in response.json()["message"]


def test_updated_since_returns_only_what_changed_after_the_clock_moves(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    before = {record["id"]: record for record in listed(server, "invoices")}
    checkpoint = datetime.fromtimestamp(ctl.state()["now"], UTC)
    ctl.advance(days=2, changes={"harvest.invoices": {"updated": 7, "deleted": 2}})

    changed = listed(server, "invoices", updated_since=stamp(checkpoint))

    updated = [r for r in changed if r["id"] in before]
    created = [r for r in changed if r["id"] not in before]
    assert len(updated) == 7
    assert len(created) == 6  # 3 a day
    assert all(r["updated_at"] >= stamp(checkpoint) for r in changed)
    assert all(r["updated_at"] > before[r["id"]]["updated_at"] for r in updated)
    # Nothing before the checkpoint comes back, and the newest-first order holds.
    ids = [r["id"] for r in changed]
    assert ids == sorted(ids, reverse=True)
    later = stamp(datetime.fromtimestamp(ctl.state()["now"], UTC) + timedelta(seconds=1))
    assert listed(server, "invoices", updated_since=later) == []


def test_an_invalid_updated_since_is_refused(server: EmulatorServer) -> None:
    response = get(server, "/v2/clients", updated_since="yesterday")

    assert response.status_code == 422


def test_a_deleted_record_leaves_the_list_and_its_address(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    before = {record["id"] for record in listed(server, "contacts")}
    ctl.advance(days=1, changes={"harvest.contacts": {"deleted": 3}})

    after = {record["id"] for record in listed(server, "contacts")}
    gone = before - after
    new = after - before

    assert len(gone) == 3
    assert len(new) == 1
    for contact_id in gone:
        assert get(server, f"/v2/contacts/{contact_id}").status_code == 404
    kept = next(iter(after & before))
    assert get(server, f"/v2/contacts/{kept}").json()["id"] == kept
    assert get(server, "/v2/contacts").json()["total_entries"] == len(after)


def test_paging_by_cursor_misses_nothing_when_records_are_deleted_midway(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    everything = [r["id"] for r in listed(server, "projects")]
    first = get(server, "/v2/projects", per_page=10).json()
    ctl.advance(seconds=60, changes={"harvest.projects": {"deleted": 5}})

    rest = []
    link = first["links"]["next"]
    while link:
        body = requests.get(link, headers=HEADERS, timeout=10).json()
        rest += [r["id"] for r in body["projects"]]
        link = body["links"]["next"]

    survivors = {r["id"] for r in listed(server, "projects")}
    seen = [r["id"] for r in first["projects"]] + rest
    # Every record still there was seen once: the cursor names a record, not an offset.
    assert survivors <= set(seen)
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(everything)


def test_is_active_splits_clients_and_projects(server: EmulatorServer) -> None:
    for resource in ("clients", "projects"):
        everything = {r["id"]: r["is_active"] for r in listed(server, resource)}
        active = {r["id"] for r in listed(server, resource, is_active="true")}
        archived = {r["id"] for r in listed(server, resource, is_active="false")}

        assert active == {i for i, on in everything.items() if on}
        assert archived == {i for i, on in everything.items() if not on}
        assert active and archived
    assert get(server, "/v2/clients", is_active="yes").status_code == 422


@pytest.mark.parametrize("resource", ["contacts", "projects", "invoices"])
def test_client_id_keeps_one_clients_records(server: EmulatorServer, resource: str) -> None:
    everything = listed(server, resource)
    client_id = everything[0]["client"]["id"]

    body = get(server, f"/v2/{resource}", client_id=client_id).json()

    expected = [r["id"] for r in everything if r["client"]["id"] == client_id]
    assert [r["id"] for r in body[resource]] == expected
    assert body["total_entries"] == len(expected) < len(everything)


def test_invoice_filters_narrow_as_documented(server: EmulatorServer) -> None:
    everything = listed(server, "invoices")
    states = {r["state"] for r in everything}
    assert {"open", "paid"} <= states

    for state in states:
        assert {r["state"] for r in listed(server, "invoices", state=state)} == {state}
        assert len(listed(server, "invoices", state=state)) == sum(
            r["state"] == state for r in everything
        )
    project_id = everything[0]["line_items"][0]["project"]["id"]
    of_project = listed(server, "invoices", project_id=project_id)
    assert of_project
    assert all(r["line_items"][0]["project"]["id"] == project_id for r in of_project)
    days = sorted({r["issue_date"] for r in everything})
    start, end = days[len(days) // 4], days[len(days) // 2]
    window = listed(server, "invoices", **{"from": start, "to": end})
    assert [r["id"] for r in window] == [
        r["id"] for r in everything if start <= r["issue_date"] <= end
    ]
    assert get(server, "/v2/invoices", state="void").status_code == 422
    assert get(server, "/v2/invoices", **{"from": "01/02/2026"}).status_code == 422


def test_filters_combine_and_stay_in_the_page_links(server: EmulatorServer) -> None:
    everything = listed(server, "invoices")
    client_id = everything[0]["client"]["id"]
    expected = [r["id"] for r in everything if r["client"]["id"] == client_id]

    seen = [r["id"] for r in listed(server, "invoices", client_id=client_id, per_page=1)]

    assert seen == expected


def test_an_undocumented_parameter_is_refused_not_ignored(server: EmulatorServer) -> None:
    response = get(server, "/v2/contacts", is_active="true")  # a filter of clients, not contacts

    assert response.status_code == 422
    assert response.json() == {"message": "Unknown parameter(s): is_active"}
    assert get(server, "/v2/invoices", cursor="abc").status_code == 422  # invoices page by number


def test_retrieve_returns_the_listed_record_and_404_for_unknown_ids(
    server: EmulatorServer,
) -> None:
    for resource in RESOURCES:
        record = listed(server, resource)[5]
        assert get(server, f"/v2/{resource}/{record['id']}").json() == record
        assert get(server, f"/v2/{resource}/999999999").status_code == 404
        assert get(server, f"/v2/{resource}/abc").status_code == 404
    me = get(server, "/v2/users/me")
    assert me.status_code == 200
    assert me.json()["access_roles"] == ["administrator"]


def test_any_scale_is_served_without_building_the_whole_list(make_emulator) -> None:
    big = make_emulator({"harvest.clients": 200_000})

    body = get(big, "/v2/clients", per_page=5).json()
    last = requests.get(body["links"]["last"], headers=HEADERS, timeout=10).json()

    assert body["total_entries"] == 200_000
    assert [c["id"] for c in body["clients"]] == [5_735_000 + 199_999 - n for n in range(5)]
    assert last["page"] == 40_000
    assert [c["id"] for c in last["clients"]] == [5_735_004 - n for n in range(5)]
