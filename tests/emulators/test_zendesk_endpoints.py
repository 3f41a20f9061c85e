"""The Zendesk emulator honours or refuses each documented parameter, never ignores one."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer

ZENDESK = demo_credentials(["zendesk"])["zendesk"]
AUTH = (f"{ZENDESK['email']}/token", ZENDESK["api_token"])
SCALE = {"zendesk.tickets": 300, "zendesk.users": 40, "stripe.customers": 40}


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(server.url)


def get(server: EmulatorServer, path: str, **params: Any) -> requests.Response:
    url = path if path.startswith("http") else f"{server.url}/zendesk/api/v2{path}"
    return requests.get(url, params=params or None, auth=AUTH, timeout=10)


def test_time_based_pages_repeat_the_records_of_their_last_timestamp(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    # Tickets changed in three seconds, 3, 5 and 2 a second: a page of 4 ends among the 5.
    now = ctl.state()["now"]
    for updated in (3, 5, 2):
        ctl.advance(seconds=1, changes={"zendesk.tickets": {"updated": updated}})
    ctl.advance(seconds=120)
    first = get(server, "/incremental/tickets.json", start_time=now + 1, per_page=4).json()

    stamps = [t["generated_timestamp"] for t in first["tickets"]]
    assert first["count"] == len(first["tickets"]) == 8  # the page takes the whole second
    assert first["end_time"] == stamps[-1] == now + 2
    assert first["end_of_stream"] is False
    following = get(server, first["next_page"]).json()
    repeated = {t["id"] for t in first["tickets"]} & {t["id"] for t in following["tickets"]}
    assert repeated == {t["id"] for t in first["tickets"] if t["generated_timestamp"] == now + 2}
    assert len(repeated) == 5
    # A page of one second moves the next start on past it, so paging always ends.
    assert following["end_time"] == now + 3
    last = get(server, following["next_page"]).json()
    assert last["count"] == 2 and last["end_of_stream"] is True


def test_export_options_are_honoured_or_refused(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.advance(days=1, changes={"zendesk.tickets": {"deleted": 4}})
    kept = get(server, "/incremental/tickets.json", start_time=0, exclude_deleted="true").json()
    everything = get(server, "/incremental/tickets.json", start_time=0).json()
    assert everything["count"] - kept["count"] == 4
    assert "exclude_deleted=true" in kept["next_page"]

    for per_page in (0, 1001, "many"):
        refused = get(server, "/incremental/users.json", start_time=0, per_page=per_page)
        assert refused.status_code == 400
    too_recent = get(server, "/incremental/tickets.json", start_time=ctl.state()["now"] - 10)
    assert too_recent.status_code == 422
    assert too_recent.json()["description"].startswith("Too recent start_time")

    unserved = get(server, "/incremental/tickets/cursor.json", start_time=0, include="slas")
    assert unserved.status_code == 400 and "slas" in unserved.json()["description"]
    loaded = get(server, "/incremental/tickets/cursor.json", start_time=0, include="users,groups")
    assert {"users", "groups"} <= set(loaded.json())


def test_list_parameters_are_honoured_or_refused(server: EmulatorServer) -> None:
    refusals = [
        ("/tickets.json", {"page[size]": 101}),
        ("/users.json", {"per_page": 101}),
        ("/users.json", {"per_page": 100, "page": 101}),  # past 10,000 records with offsets
        ("/users.json", {"role": "owner"}),
        ("/tickets.json", {"role": "agent"}),
        ("/tickets.json", {"page[size]": 10, "sort": "-updated_at"}),
        ("/tickets.json", {"page[size]": 10, "page[after]": "not-a-cursor"}),
    ]
    for path, params in refusals:
        response = get(server, path, **params)
        assert response.status_code == 400, (path, params)
        assert set(response.json()) == {"error", "description"}

    assert get(server, "/tickets.json", external_id="order-1").json()["tickets"] == []
    admins = get(server, "/users.json", role="admin").json()
    assert [user["role"] for user in admins["users"]] == ["admin"] and admins["count"] == 1


def test_cursor_lists_go_both_ways_and_keep_their_filters(server: EmulatorServer) -> None:
    first = get(server, "/users.json", **{"page[size]": 3, "role": "agent"}).json()
    second = get(server, first["links"]["next"]).json()
    back = get(server, second["links"]["prev"]).json()
    newest = get(server, "/tickets.json", **{"page[size]": 5, "sort": "-id"}).json()

    assert [u["role"] for u in first["users"] + second["users"]] == ["agent"] * 5
    assert back["users"] == first["users"]
    assert second["meta"]["has_more"] is False
    assert [t["id"] for t in newest["tickets"]] == [300, 299, 298, 297, 296]


def test_show_answers_404_for_deleted_tickets_and_keeps_deleted_users(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.advance(days=1, changes={"zendesk.tickets": {"deleted": 300}, "zendesk.users": {}})

    gone = get(server, "/tickets/5.json")
    missing = get(server, "/tickets/99999.json")

    for response in (gone, missing):
        assert response.status_code == 404
        assert response.json() == {"error": "RecordNotFound", "description": "Not found"}
    assert get(server, "/users/me.json").json()["user"]["role"] == "admin"
    wrong_method = requests.post(f"{server.url}/zendesk/api/v2/tickets.json", auth=AUTH, timeout=10)
    assert wrong_method.status_code == 404


def test_the_export_rate_limit_answers_429_until_the_window_passes(make_emulator) -> None:
    server = make_emulator(
        {"zendesk.export_requests_per_window": 2, "zendesk.export_window_seconds": 2}
    )
    path = "/incremental/users/cursor.json"
    assert [get(server, path, start_time=0).status_code for _ in range(2)] == [200, 200]

    refused = get(server, path, start_time=0)

    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert refused.text == "Number of allowed API requests per minute exceeded"
    assert get(server, "/users.json").status_code == 200  # only the exports are limited
    deadline = time.monotonic() + 5
    while get(server, path, start_time=0).status_code == 429:
        assert time.monotonic() < deadline, "the export stayed refused after its window"
