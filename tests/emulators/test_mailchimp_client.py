"""Mailchimp's official Python client (mailchimp-marketing) against the emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import mailchimp_marketing
import pytest
from mailchimp_marketing.api_client import ApiClientError

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer
from tests.emulators.shared_server import shared_server

KEY = demo_credentials(["mailchimp"])["mailchimp"]["api_key"]
SCALE = {"mailchimp.lists": 3, "mailchimp.members": 450, "mailchimp.campaigns": 40}
PAGE = 70  # not a divisor of any total, so the last page is a short one


http_server, server, ctl = shared_server(SCALE)


def official(server: EmulatorServer, api_key: str = KEY) -> mailchimp_marketing.Client:
    """The client as its README sets it up, with its host pointed at the emulator."""
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": api_key, "server": api_key.rpartition("-")[2]})
    # ApiClient builds every URL as `host + path`, then swaps the word "server" for the
    # data center: a host without that word is used as it is.
    client.api_client.host = f"{server.url}/mailchimp/3.0"
    return client


def every(call: Callable[..., dict[str, Any]], collection: str, **params: Any) -> list[dict]:
    """Page a listing to its end with count/offset, as the client's operations offer."""
    found: list[dict] = []
    while True:
        body = call(count=PAGE, offset=len(found), **params)
        found.extend(body[collection])
        if not body[collection] or len(found) >= body["total_items"]:
            assert len(found) == body["total_items"]
            return found


def problem(error: ApiClientError) -> dict[str, Any]:
    """The error body: the client hands over problem+json as text (not "application/json")."""
    return json.loads(error.text)


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_lists_members_and_campaigns_page_to_the_end(server: EmulatorServer) -> None:
    client = official(server)
    control = EmulatorControl(server.url)
    control.advance(days=3, changes={"mailchimp.members": {"updated": 20, "deleted": 9}})
    created = control.state()["datasets"]["mailchimp.members"]["created"]

    audiences = every(client.lists.get_all_lists, "lists")
    members = {
        audience["id"]: every(client.lists.get_list_members_info, "members", list_id=audience["id"])
        for audience in audiences
    }
    archived = [
        every(client.lists.get_list_members_info, "members", list_id=a["id"], status="archived")
        for a in audiences
    ]
    campaigns = every(client.campaigns.list, "campaigns")

    assert len(audiences) == 3
    # Deleted members are archived: left out of a listing unless asked for by status.
    assert sum(len(found) for found in archived) == 9
    assert sum(len(found) for found in (*members.values(), *archived)) == created > 450
    for list_id, found in members.items():
        assert len({m["id"] for m in found}) == len(found)
        assert all(m["list_id"] == list_id and m["status"] != "archived" for m in found)
    assert len({c["id"] for c in campaigns}) == len(campaigns) >= 40


def test_the_connectors_incremental_filters_return_only_what_changed(
    server: EmulatorServer,
) -> None:
    client = official(server)
    control = EmulatorControl(server.url)
    list_id = client.lists.get_all_lists(fields=["lists.id"])["lists"][0]["id"]
    since = control.state()["now"]
    control.advance(days=10, changes={"mailchimp.members": {"updated": 30, "deleted": 6}})

    changed = every(
        client.lists.get_list_members_info,
        "members",
        list_id=list_id,
        since_last_changed=iso(since),
    )
    archived = every(
        client.lists.get_list_members_info,
        "members",
        list_id=list_id,
        since_last_changed=iso(since),
        status="archived",
    )
    created = every(client.campaigns.list, "campaigns", since_create_time=iso(since))
    # The client documents the campaign windows as datetimes; it sends their ISO form.
    sent = every(
        client.campaigns.list, "campaigns", since_send_time=datetime.fromtimestamp(since, UTC)
    )

    assert changed and all(m["last_changed"] > iso(since) for m in changed)
    assert archived and all(m["status"] == "archived" for m in archived)
    everyone = every(client.lists.get_list_members_info, "members", list_id=list_id)
    assert len(changed) == sum(m["last_changed"] > iso(since) for m in everyone)
    assert created and all(c["create_time"] > iso(since) for c in created)
    assert sent and all(c["send_time"] > iso(since) for c in sent)


def test_since_timestamp_opt_is_honoured(server: EmulatorServer) -> None:
    client = official(server)
    list_id = client.lists.get_all_lists(fields=["lists.id"])["lists"][0]["id"]
    everyone = every(client.lists.get_list_members_info, "members", list_id=list_id)
    cut = sorted(m["timestamp_opt"] for m in everyone)[len(everyone) // 2]

    later = every(
        client.lists.get_list_members_info, "members", list_id=list_id, since_timestamp_opt=cut
    )
    earlier = every(
        client.lists.get_list_members_info, "members", list_id=list_id, before_timestamp_opt=cut
    )

    assert {m["id"] for m in later} == {m["id"] for m in everyone if m["timestamp_opt"] > cut}
    assert {m["id"] for m in earlier} == {m["id"] for m in everyone if m["timestamp_opt"] < cut}
    assert 0 < len(later) < len(everyone)


def test_a_wrong_key_raises_the_clients_own_401(server: EmulatorServer) -> None:
    wrong = "f" * 32 + "-us6"

    with pytest.raises(ApiClientError) as failure:
        official(server, wrong).lists.get_all_lists()

    assert failure.value.status_code == 401
    assert problem(failure.value)["title"] == "API Key Invalid"
    assert official(server).ping.get() == {"health_status": "Everything's Chimpy!"}


def test_a_revoked_key_is_refused_from_then_on(server: EmulatorServer) -> None:
    client = official(server)
    client.lists.get_all_lists()

    EmulatorControl(server.url).credentials("mailchimp", api_key="e" * 32 + "-us6")

    with pytest.raises(ApiClientError) as failure:
        client.lists.get_all_lists()
    assert failure.value.status_code == 401
    assert "wrong datacenter" in problem(failure.value)["detail"]


def test_one_member_one_list_and_one_campaign_by_id(server: EmulatorServer) -> None:
    client = official(server)
    audience = client.lists.get_all_lists(count=1)["lists"][0]
    member = client.lists.get_list_members_info(audience["id"], count=1)["members"][0]
    campaign = client.campaigns.list(count=1)["campaigns"][0]

    assert client.lists.get_list(audience["id"])["id"] == audience["id"]
    assert client.lists.get_list_member(audience["id"], member["id"]) == member
    assert (
        client.lists.get_list_member(audience["id"], member["email_address"])["id"]
        == (member["id"])
    )
    assert client.campaigns.get(campaign["id"])["id"] == campaign["id"]
    with pytest.raises(ApiClientError) as failure:
        client.campaigns.get("0000000000")
    assert failure.value.status_code == 404


def test_the_connectors_backfill_bounds_and_partial_responses(server: EmulatorServer) -> None:
    client = official(server)
    control = EmulatorControl(server.url)
    list_id = client.lists.get_all_lists(fields=["lists.id"])["lists"][0]["id"]
    start = control.state()["now"]
    control.advance(days=4, changes={"mailchimp.members": {"updated": 30}})
    middle = control.advance(days=2)
    control.advance(days=4, changes={"mailchimp.members": {"updated": 30}})
    window = {"since_last_changed": iso(start), "before_last_changed": iso(middle)}
    exclude = ["members._links", "_links"]

    members = every(
        client.lists.get_list_members_info,
        "members",
        list_id=list_id,
        exclude_fields=exclude,
        **window,
    )
    campaigns = every(
        client.campaigns.list,
        "campaigns",
        since_create_time=datetime.fromtimestamp(start, UTC),
        before_create_time=datetime.fromtimestamp(middle, UTC),
    )
    everyone = every(client.lists.get_list_members_info, "members", list_id=list_id)

    assert members and all(iso(start) < m["last_changed"] < iso(middle) for m in members)
    assert len(members) == sum(iso(start) < m["last_changed"] < iso(middle) for m in everyone)
    assert all("_links" not in m for m in members)
    assert campaigns and all(iso(start) < c["create_time"] < iso(middle) for c in campaigns)
