"""The Harvest emulator's answers to credentials, a missing User-Agent, its rate limit and faults.

Harvest has no official Python client (see `test_harvest.py`); requests are made with
`requests`, and with `http.client` where a request must carry no User-Agent at all.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer

HARVEST = demo_credentials(["harvest"])["harvest"]
AGENT = "lifeboat tests (ops@example.com)"
HEADERS = {
    "Authorization": f"Bearer {HARVEST['access_token']}",
    "Harvest-Account-Id": HARVEST["account_id"],
    "User-Agent": AGENT,
}
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or "
    "invalid for other reasons.",
}
SCALE = {"harvest.clients": 12, "harvest.contacts": 20, "harvest.invoices": 40}


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    return make_emulator(SCALE)


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(server.url)


def get(server: EmulatorServer, path: str, headers: dict[str, Any], **params: Any):
    return requests.get(f"{server.url}/harvest{path}", params=params, headers=headers, timeout=10)


def test_the_demo_credentials_open_the_account(server: EmulatorServer) -> None:
    response = get(server, "/v2/users/me", HEADERS)

    assert response.status_code == 200
    assert response.json()["id"] == 1_782_884


@pytest.mark.parametrize(
    "change",
    [
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": ""},
        {"Authorization": f"Basic {HARVEST['access_token']}"},
        {"Harvest-Account-Id": "999999"},
        {"Harvest-Account-Id": ""},
    ],
    ids=["wrong-token", "no-token", "not-bearer", "wrong-account", "no-account"],
)
def test_a_wrong_or_missing_token_or_account_gets_harvests_401(
    server: EmulatorServer, change: dict[str, str]
) -> None:
    response = get(server, "/v2/clients", {**HEADERS, **change})

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


def test_query_string_authentication_works_and_its_links_keep_working(
    server: EmulatorServer,
) -> None:
    params = {"access_token": HARVEST["access_token"], "account_id": HARVEST["account_id"]}
    first = get(server, "/v2/clients", {"User-Agent": AGENT}, per_page=5, **params)
    assert first.status_code == 200
    following = requests.get(first.json()["links"]["next"], headers={"User-Agent": AGENT})

    assert following.status_code == 200
    assert len(following.json()["clients"]) == 5
    wrong = get(server, "/v2/clients", {"User-Agent": AGENT}, **{**params, "account_id": "1"})
    assert wrong.status_code == 401


def test_a_request_without_a_user_agent_is_a_bad_request(server: EmulatorServer) -> None:
    # requests and urllib3 always add their own User-Agent; http.client adds none.
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("GET", "/harvest/v2/users/me", skip_accept_encoding=True)
    connection.putheader("Authorization", HEADERS["Authorization"])
    connection.putheader("Harvest-Account-Id", HEADERS["Harvest-Account-Id"])
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()

    assert response.status == 400


def test_a_revoked_token_is_refused_and_the_new_one_accepted(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.credentials("harvest", access_token="rotated-token", account_id=HARVEST["account_id"])

    old = get(server, "/v2/clients", HEADERS)
    new = get(server, "/v2/clients", {**HEADERS, "Authorization": "Bearer rotated-token"})

    assert old.status_code == 401
    assert old.json() == INVALID_TOKEN
    assert new.status_code == 200


def test_the_rate_limit_is_off_by_default(server: EmulatorServer) -> None:
    statuses = {get(server, "/v2/users/me", HEADERS).status_code for _ in range(120)}

    assert statuses == {200}


def test_the_opt_in_rate_limit_answers_429_with_retry_after_per_token(make_emulator) -> None:
    limited = make_emulator({**SCALE, "harvest.requests_per_window": 5})

    statuses = [get(limited, "/v2/clients", HEADERS).status_code for _ in range(7)]
    refused = get(limited, "/v2/clients", HEADERS)

    assert statuses == [200] * 5 + [429] * 2
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15
    # The window counts requests per access token: a wrong token is told it is wrong.
    assert get(limited, "/v2/clients", {**HEADERS, "Authorization": "Bearer x"}).status_code == 401


def test_an_outage_answers_an_html_5xx(server: EmulatorServer, ctl: EmulatorControl) -> None:
    ctl.fault("harvest", "outage", status=503)

    response = get(server, "/v2/clients", HEADERS)

    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("status", "json_key"), [(401, "error"), (403, "message")])
def test_a_lockout_answers_in_harvests_format(
    server: EmulatorServer, ctl: EmulatorControl, status: int, json_key: str
) -> None:
    ctl.fault("harvest", "lockout", status=status)

    response = get(server, "/v2/clients", HEADERS)

    assert response.status_code == status
    assert json_key in response.json()


def test_a_rate_limit_fault_answers_429_with_retry_after(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.fault("harvest", "rate_limit", retry_after=7, count=1)

    refused = get(server, "/v2/clients", HEADERS)
    then = get(server, "/v2/clients", HEADERS)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "7"
    assert then.status_code == 200


@pytest.mark.parametrize(("mode", "options"), [("empty", {}), ("partial", {"share": 0.5})])
def test_listing_faults_shrink_the_list_and_its_totals(
    server: EmulatorServer, ctl: EmulatorControl, mode: str, options: dict[str, Any]
) -> None:
    ctl.fault("harvest", mode, **options)

    body = get(server, "/v2/invoices", HEADERS).json()

    assert len(body["invoices"]) == body["total_entries"] < SCALE["harvest.invoices"]
    if mode == "empty":
        assert body["invoices"] == []


def test_a_malformed_body_is_not_json(server: EmulatorServer, ctl: EmulatorControl) -> None:
    ctl.fault("harvest", "malformed", count=1)

    response = get(server, "/v2/clients", HEADERS)

    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_writes_and_unknown_paths_are_refused(server: EmulatorServer) -> None:
    posted = requests.post(f"{server.url}/harvest/v2/clients", headers=HEADERS, json={}, timeout=10)

    assert posted.status_code == 405
    assert get(server, "/v2/time_entries", HEADERS).status_code == 404
