"""HubSpot's official Python client (hubspot-api-client) against the emulator over real HTTP.

The client pages with its own helpers (`get_page` and `after`, `get_all`), searches with
the filters the connector relies on, and raises its own exceptions for refused tokens.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException, UnauthorizedException
from urllib3.util.retry import Retry

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer
from pipelines.hubspot.settings import MODIFIED_PROPERTY, PROPERTIES
from tests.emulators.test_hubspot import DEMO, list_all

KINDS = ("contacts", "companies", "deals")
SCALE = {"hubspot.contacts": 230, "hubspot.companies": 140, "hubspot.deals": 205}


@pytest.fixture(scope="module")
def hub() -> Iterator[EmulatorServer]:
    """An emulator that has lived a week: records created, changed and deleted."""
    server = EmulatorServer(Emulator(seed=7, scale=SCALE)).start()
    EmulatorControl(server.url).advance(days=7)
    yield server
    server.stop()


def client(server: EmulatorServer, token: str | None = None) -> HubSpot:
    """The client as its README sets it up, pointed at the emulator instead of api.hubapi.com.

    HubSpot documents urllib3 retries for 429s: the search endpoints take five requests a
    second, and a client paging quickly meets that limit.
    """
    retry = Retry(total=20, status_forcelist=[429], allowed_methods=None, backoff_factor=0.1)
    return HubSpot(
        access_token=token or DEMO["hubspot"]["access_token"],
        host=f"{server.url}/hubspot",
        retry=retry,
    )


def api_of(server: EmulatorServer, kind: str) -> Any:
    return getattr(client(server).crm, kind)


def models(kind: str) -> ModuleType:
    return importlib.import_module(f"hubspot.crm.{kind}")


def paged_by_hand(api: Any, **params: Any) -> list[Any]:
    """`get_page` with the `after` cursor the client hands back, to the last page."""
    found, after = [], None
    while True:
        page = api.basic_api.get_page(limit=100, after=after, **params)
        found.extend(page.results)
        if page.paging is None or page.paging.next is None:
            return found
        after = page.paging.next.after


def search_all(
    server: EmulatorServer, kind: str, filters: list[dict[str, Any]], limit: int = 200
) -> list[Any]:
    """`do_search` with the connector's body (filters, one ascending sort), paged to the end."""
    m = models(kind)
    api = api_of(server, kind)
    group = m.FilterGroup(filters=[m.Filter(**f) for f in filters])
    found, after = [], None
    while True:
        request = m.PublicObjectSearchRequest(
            filter_groups=[group],
            sorts=[{"propertyName": MODIFIED_PROPERTY[kind], "direction": "ASCENDING"}],
            properties=PROPERTIES[kind],
            limit=limit,
            after=after,
        )
        page = api.search_api.do_search(public_object_search_request=request)
        found.extend(page.results)
        if page.paging is None:
            assert page.total == len(found)
            return found
        after = page.paging.next.after


@pytest.mark.parametrize("kind", KINDS)
def test_get_page_and_get_all_page_every_live_record_to_the_end(hub, kind: str) -> None:
    truth = [r["id"] for r in list_all(hub, kind, properties=",".join(PROPERTIES[kind]))]
    by_hand = paged_by_hand(api_of(hub, kind), properties=PROPERTIES[kind])
    everything = api_of(hub, kind).get_all(properties=PROPERTIES[kind])
    assert [r.id for r in by_hand] == [r.id for r in everything] == truth
    assert len(truth) > SCALE[f"hubspot.{kind}"] * 0.9
    assert all(r.archived is False and r.updated_at >= r.created_at for r in everything)
    assert set(PROPERTIES[kind]) <= set(everything[0].properties)


@pytest.mark.parametrize("kind", KINDS)
def test_archived_listing_holds_exactly_the_deleted_records(hub, kind: str) -> None:
    archived = paged_by_hand(api_of(hub, kind), archived=True)
    live = {r.id for r in api_of(hub, kind).get_all()}
    assert archived, "a week of changes deletes a few records"
    assert all(r.archived is True and r.archived_at is not None for r in archived)
    assert not live & {r.id for r in archived}


@pytest.mark.parametrize("kind", KINDS)
def test_search_by_last_modified_date_finds_what_changed_in_order(hub, kind: str) -> None:
    now_ms = EmulatorControl(hub.url).state()["now"] * 1000
    since = now_ms - 3 * 86_400_000
    modified = MODIFIED_PROPERTY[kind]
    # Small pages, so the client's `after` cursor is followed across several.
    changed = search_all(
        hub, kind, [{"property_name": modified, "operator": "GTE", "value": since}], limit=3
    )
    live = api_of(hub, kind).get_all(properties=[modified])
    truth = sorted(
        (r.updated_at, int(r.id)) for r in live if r.updated_at.timestamp() * 1000 >= since
    )
    assert [(r.updated_at, int(r.id)) for r in changed] == truth
    assert len(changed) > 2 * 3, "three days of a live CRM change a few pages' worth"
    # The window the connector uses for a backfill: [since, until).
    until = int(changed[len(changed) // 2].updated_at.timestamp() * 1000)
    window = search_all(
        hub,
        kind,
        [
            {"property_name": modified, "operator": "GTE", "value": since},
            {"property_name": modified, "operator": "LT", "value": until},
        ],
    )
    assert [r.id for r in window] == [
        r.id for r in changed if r.updated_at.timestamp() * 1000 < until
    ]


def test_search_of_one_instant_in_id_order(hub) -> None:
    """The connector's walk of many changes sharing one instant: EQ the time, GT the id."""
    first = api_of(hub, "deals").get_all(properties=["hs_lastmodifieddate"])[0]
    at = str(int(first.updated_at.timestamp() * 1000))
    found = search_all(
        hub,
        "deals",
        [
            {"property_name": "hs_lastmodifieddate", "operator": "EQ", "value": at},
            {"property_name": "hs_object_id", "operator": "GT", "value": "0"},
        ],
    )
    assert first.id in [r.id for r in found]
    assert all(r.updated_at == first.updated_at for r in found)


def test_one_record_by_id_is_the_listed_one(hub) -> None:
    listed = api_of(hub, "contacts").basic_api.get_page(limit=1).results[0]
    one = api_of(hub, "contacts").basic_api.get_by_id(listed.id)
    assert one.to_dict() == listed.to_dict()
    with pytest.raises(ApiException) as missing:
        api_of(hub, "contacts").basic_api.get_by_id("1")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["category"] == "OBJECT_NOT_FOUND"


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_token_raises_the_clients_unauthorized_exception(hub, kind: str) -> None:
    wrong = client(hub, token="pat-na1-00000000-0000-0000-0000-000000000000")
    # Each object type's package carries its own exception classes.
    refusal = importlib.import_module(f"hubspot.crm.{kind}.exceptions").UnauthorizedException
    with pytest.raises(refusal) as refused:
        getattr(wrong.crm, kind).basic_api.get_page(limit=1)
    assert refused.value.status == 401
    body = json.loads(refused.value.body)
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found")


def test_a_revoked_token_is_refused_from_then_on(make_emulator) -> None:
    server = make_emulator({"hubspot.contacts": 3})
    api = client(server).crm.contacts.basic_api
    assert len(api.get_page(limit=10).results) == 3
    EmulatorControl(server.url).credentials("hubspot", access_token="pat-na1-rotated")
    with pytest.raises(UnauthorizedException):
        api.get_page(limit=10)
    assert len(client(server, "pat-na1-rotated").crm.contacts.get_all()) == 3
