"""zenpy, Zendesk's Python client, against the emulator over real HTTP.

zenpy builds every URL as https://{subdomain}.zendesk.com/api/v2/...; its own overrides,
ZENPY_FORCE_SCHEME and ZENPY_FORCE_NETLOC (zenpy.lib.api.BaseApi._build_url), point it at
the emulator instead. Nothing else of zenpy is touched: paging, auth and 429 handling are
its own.
"""

from __future__ import annotations

from collections import Counter

import pytest
from zenpy import Zenpy
from zenpy.lib.exception import APIException

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer

ZENDESK = demo_credentials(["zendesk"])["zendesk"]
SCALE = {"zendesk.tickets": 450, "zendesk.users": 130, "stripe.customers": 130}


@pytest.fixture
def server(make_emulator, monkeypatch: pytest.MonkeyPatch) -> EmulatorServer:
    server = make_emulator(SCALE)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", f"{server.url.removeprefix('http://')}/zendesk")
    return server


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(server.url)


def client(token: str = ZENDESK["api_token"]) -> Zenpy:
    return Zenpy(subdomain="lifeboat-demo", email=ZENDESK["email"], token=token)


def test_cursor_exports_page_to_the_end_with_zenpys_generators(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    tickets = list(client().tickets.incremental(start_time=0, per_page=100))
    users = list(client().users.incremental(start_time=0, per_page=50))

    assert sorted(t.id for t in tickets) == list(range(1, 451))
    assert len({u.id for u in users}) == len(users) == 130
    assert ctl.requests("zendesk") == 5 + 3  # every page asked for once
    assert {t.status for t in tickets} <= {"new", "open", "pending", "hold", "solved", "closed"}


def test_a_cursor_resumes_with_only_what_changed_deleted_tickets_included(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    user_export = client().users.incremental(start_time=0)
    assert len(list(user_export)) == 130
    assert list(client().users.incremental(cursor=user_export.after_cursor)) == []
    export = client().tickets.incremental(start_time=0)
    before = {ticket.id for ticket in export}
    ctl.advance(days=1, changes={"zendesk.tickets": {"updated": 6, "deleted": 2}})

    changed = list(client().tickets.incremental(cursor=export.after_cursor))

    old = [ticket for ticket in changed if ticket.id in before]
    assert len(old) == 8
    assert Counter(ticket.status == "deleted" for ticket in old)[True] == 2
    assert 30 <= len(changed) - len(old) <= 41  # a day's new tickets, less the last minute's


def test_time_based_exports_page_to_the_end_repeating_only_at_page_edges(
    server: EmulatorServer,
) -> None:
    tickets = list(client().tickets.incremental(start_time=0, paginate_by_time=True, per_page=100))
    users = list(client().users.incremental(start_time=0, paginate_by_time=True, per_page=40))

    assert {t.id for t in tickets} == set(range(1, 451))
    assert {u.id for u in users} == {u.id for u in client().users.incremental(start_time=0)}
    # Time-based pages may repeat the records that share the last timestamp of a page.
    assert len(tickets) - 450 <= 4 and len(users) - 130 <= 3


def test_side_loaded_users_come_with_the_export(server: EmulatorServer) -> None:
    tickets = list(client().tickets.incremental(start_time=0, include=["users"], per_page=200))

    emails = {ticket.requester.email for ticket in tickets[:20]}
    assert all("@" in email for email in emails)


def test_lists_page_to_the_end_with_cursor_and_offset_pagination(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    deletions = {"zendesk.tickets": {"deleted": 3}, "zendesk.users": {"deleted": 2}}
    ctl.advance(days=1, changes=deletions)
    live = ctl.state()["datasets"]

    cursor_tickets = [ticket.id for ticket in client().tickets()]
    offset_users = [user.id for user in client().users(cursor_pagination=False)]
    cursor_users = [user.id for user in client().users()]

    expected_tickets = live["zendesk.tickets"]["created"] - 3
    assert len(set(cursor_tickets)) == len(cursor_tickets) == expected_tickets
    assert cursor_tickets == sorted(cursor_tickets)
    assert offset_users == cursor_users
    assert len(cursor_users) == live["zendesk.users"]["created"] - 2


def test_list_filters_and_show_endpoints(server: EmulatorServer) -> None:
    agents = list(client().users(role="agent"))
    staff = list(client().users(role=["agent", "admin"]))
    ticket = client().tickets(id=17)
    me = client().users.me()

    assert {user.role for user in agents} == {"agent"}
    assert len(staff) == len(agents) + 1
    assert ticket.id == 17 and ticket.requester_id
    assert me.role == "admin"


def test_a_wrong_api_token_raises_zenpys_api_exception_with_zendesks_401(
    server: EmulatorServer,
) -> None:
    with pytest.raises(APIException) as refused:
        list(client(token="not-the-token").tickets.incremental(start_time=0))

    assert refused.value.response.status_code == 401
    assert refused.value.response.json() == {"error": "Couldn't authenticate you"}


def test_zenpy_waits_out_a_429_on_its_own(server: EmulatorServer, ctl: EmulatorControl) -> None:
    ctl.fault("zendesk", "rate_limit", retry_after=1, count=1)

    users = list(client().users.incremental(start_time=0))

    assert len(users) == 130
    assert ctl.requests("zendesk") == 2
