"""Every documented filter of Mailchimp's listings is honoured, or refused as Mailchimp does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emulators.control import EmulatorControl
from emulators.server import EmulatorServer
from tests.emulators.shared_server import shared_server
from tests.emulators.test_mailchimp import SCALE, assert_problem, get, list_ids, members

http_server, server, ctl = shared_server(SCALE)


MEMBER_FILTERS: list[tuple[dict[str, str], Callable[[dict, dict], bool]]] = [
    ({"email_type": "text"}, lambda m, _: m["email_type"] == "text"),
    ({"vip_only": "true"}, lambda m, _: m["vip"]),
    ({"vip_only": "false"}, lambda m, _: True),
    ({"unique_email_id": "{unique_email_id}"}, lambda m, one: m["id"] == one["id"]),
    (
        {"since_timestamp_opt": "{timestamp_opt}"},
        lambda m, one: m["timestamp_opt"] > one["timestamp_opt"],
    ),
    (
        {"before_timestamp_opt": "{timestamp_opt}"},
        lambda m, one: m["timestamp_opt"] < one["timestamp_opt"],
    ),
    (
        {"since_timestamp_opt": "{timestamp_opt}", "sort_field": "last_changed"},
        lambda m, one: m["timestamp_opt"] > one["timestamp_opt"],
    ),
    (
        {"interest_category_id": "abc", "interest_ids": "1,2", "interest_match": "none"},
        lambda m, _: True,  # no member is in an interest group
    ),
    (
        {"interest_category_id": "abc", "interest_ids": "1,2", "interest_match": "any"},
        lambda m, _: False,
    ),
    (
        {"status": "unsubscribed", "unsubscribed_since": "{last_changed}"},
        lambda m, one: m["status"] == "unsubscribed" and m["last_changed"] > one["last_changed"],
    ),
]


@pytest.mark.parametrize(("params", "keeps"), MEMBER_FILTERS)
def test_documented_member_filters_are_honoured(
    server: EmulatorServer, ctl: EmulatorControl, params: dict[str, str], keeps: Callable
) -> None:
    ctl.advance(days=30, changes={"mailchimp.members": {"updated": 60, "deleted": 6}})
    list_id = list_ids(server)[0]
    everyone = members(server, list_id)
    one = sorted(everyone, key=lambda m: m["timestamp_opt"])[len(everyone) // 2]
    asked = {name: value.format(**one) for name, value in params.items()}

    found = members(server, list_id, **asked)

    assert sorted(m["id"] for m in found) == sorted(m["id"] for m in everyone if keeps(m, one))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since_last_campaign": "true"}, "since_last_campaign"),
        ({"unsubscribed_since": "2026-01-01T00:00:00+00:00"}, "unsubscribed_since"),
        ({"interest_match": "any"}, "interest_category_id"),
        ({"email_type": "pdf"}, "email_type"),
        ({"vip_only": "yes"}, "vip_only"),
        ({"since_timestamp_opt": "last week"}, "since_timestamp_opt"),
        ({"sort_field": "email_address"}, "sort_field"),
    ],
)
def test_member_filters_used_wrongly_are_refused(
    server: EmulatorServer, params: dict[str, str], field: str
) -> None:
    response = get(server, f"/lists/{list_ids(server)[0]}/members", **params)

    assert assert_problem(response, 400, "Invalid Resource")["errors"][0]["field"] == field


def test_since_last_campaign_reads_members_changed_since_the_last_send(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.advance(days=20, changes={"mailchimp.members": {"updated": 60}})
    audience = get(server, "/lists").json()["lists"][0]
    last_sent = audience["stats"]["campaign_last_sent"]
    everyone = members(server, audience["id"], status="subscribed")

    found = members(server, audience["id"], status="subscribed", since_last_campaign="true")

    assert last_sent
    expected = {m["id"] for m in everyone if m["last_changed"] > last_sent}
    assert {m["id"] for m in found} == expected and len(expected) < len(everyone)


def test_documented_list_filters_are_honoured(server: EmulatorServer) -> None:
    audiences = get(server, "/lists").json()["lists"]
    member = members(server, audiences[1]["id"])[0]

    with_email = get(server, "/lists", email=member["email_address"]).json()
    with_store = get(server, "/lists", has_ecommerce_store="true").json()
    totals = get(server, "/lists", include_total_contacts="true").json()
    cut = sorted(a["stats"]["campaign_last_sent"] for a in audiences)[1]
    sent_since = get(server, "/lists", since_campaign_last_sent=cut).json()

    assert audiences[1]["id"] in {a["id"] for a in with_email["lists"]}
    assert with_email["total_items"] < len(audiences)
    assert with_store["lists"] == [] and with_store["total_items"] == 0  # no store connected
    assert all("total_contacts" not in a["stats"] for a in audiences)
    assert all(a["stats"]["total_contacts"] >= a["stats"]["member_count"] for a in totals["lists"])
    assert {a["id"] for a in sent_since["lists"]} == {
        a["id"] for a in audiences if a["stats"]["campaign_last_sent"] > cut
    }


def test_documented_campaign_filters_are_honoured(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.advance(days=20)
    everything = get(server, "/campaigns", count=1000).json()["campaigns"]
    list_id = list_ids(server)[0]
    member = members(server, list_id)[0]

    by_list = get(server, "/campaigns", count=1000, list_id=list_id).json()["campaigns"]
    by_type = get(server, "/campaigns", count=1000, type="regular").json()["campaigns"]
    in_folder = get(server, "/campaigns", count=1000, folder_id="f1").json()
    to_member = get(server, "/campaigns", count=1000, member_id=member["id"]).json()["campaigns"]
    by_send = get(server, "/campaigns", count=1000, sort_field="send_time", sort_dir="DESC")

    assert 0 < len(by_list) < len(everything)
    assert {c["id"] for c in by_list} == {
        c["id"] for c in everything if c["recipients"]["list_id"] == list_id
    }
    assert by_type and all(c["type"] == "regular" for c in by_type)
    assert len(by_type) < len(everything)
    assert in_folder["campaigns"] == [] and in_folder["total_items"] == 0
    assert to_member and {c["id"] for c in to_member} == {
        c["id"]
        for c in by_list
        if c["status"] == "sent" and c["send_time"] >= member["timestamp_opt"]
    }
    sends = [c["send_time"] for c in by_send.json()["campaigns"] if c["send_time"]]
    assert sends == sorted(sends, reverse=True)
