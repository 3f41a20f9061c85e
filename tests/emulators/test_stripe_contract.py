"""The Stripe emulator answers as Stripe documents: keys, versions, parameters, event types."""

from __future__ import annotations

import typing

import pytest
import requests
import stripe

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials

KEY = demo_credentials(["stripe"])["stripe"]["api_key"]
STRIPE_EVENT_TYPES = frozenset(typing.get_args(stripe.Event.__annotations__["type"]))


def _get(url: str, path: str, key: str | None = KEY, version: str | None = None, **params):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if version:
        headers["Stripe-Version"] = version
    return requests.get(f"{url}/stripe{path}", params=params, headers=headers, timeout=10)


def _error(response: requests.Response) -> dict:
    return response.json()["error"]


def test_only_the_given_key_opens_the_account(emulator) -> None:
    assert _get(emulator.url, "/v1/customers").status_code == 200
    wrong = _get(emulator.url, "/v1/customers", key="sk_test_51Hxyz0000notyours9876")
    assert wrong.status_code == 401
    assert _error(wrong) == {
        "message": "Invalid API Key provided: sk_test_****9876",
        "type": "invalid_request_error",
    }
    missing = _get(emulator.url, "/v1/customers", key=None)
    assert missing.status_code == 401
    assert _error(missing)["message"].startswith("You did not provide an API key.")


def test_a_revoked_key_is_refused_from_then_on(emulator) -> None:
    EmulatorControl(emulator.url).credentials("stripe", api_key="sk_test_rolled_key_0001")
    refused = _get(emulator.url, "/v1/charges")
    assert refused.status_code == 401 and "Invalid API Key" in _error(refused)["message"]
    assert _get(emulator.url, "/v1/charges", key="sk_test_rolled_key_0001").status_code == 200


def test_every_event_type_served_is_one_of_stripes(emulator) -> None:
    control = EmulatorControl(emulator.url)
    changes = {f"stripe.{n}": {"updated": 8} for n in ("charges", "invoices", "subscriptions")}
    control.advance(days=2, changes=changes | {"stripe.customers": {"updated": 4, "deleted": 2}})
    served: set[str] = set()
    after: dict[str, str] = {}
    while True:
        body = _get(emulator.url, "/v1/events", limit=100, **after).json()
        served |= {event["type"] for event in body["data"]}
        if not body["has_more"]:
            break
        after = {"starting_after": body["data"][-1]["id"]}
    assert served - STRIPE_EVENT_TYPES == set()
    assert {"customer.subscription.created", "customer.deleted", "charge.refunded"} <= served


def test_subscriptions_leave_out_canceled_unless_asked(emulator) -> None:
    EmulatorControl(emulator.url).advance(days=1, changes={"stripe.subscriptions": {"updated": 30}})

    def statuses(**params: str) -> list[str]:
        found: list[str] = []
        while True:
            body = _get(emulator.url, "/v1/subscriptions", limit=100, **params).json()
            found += [s["status"] for s in body["data"]]
            if not body["has_more"]:
                return found
            params["starting_after"] = body["data"][-1]["id"]

    everything = statuses(status="all")
    assert "canceled" in everything
    assert "canceled" not in statuses()
    assert set(statuses(status="canceled")) == {"canceled"}
    assert len(statuses()) + statuses(status="ended").count("canceled") == len(everything)
    invalid = _get(emulator.url, "/v1/subscriptions", status="gone")
    assert invalid.status_code == 400 and _error(invalid)["param"] == "status"


@pytest.mark.parametrize("resource", ["charges", "invoices", "subscriptions"])
def test_customer_filter_returns_only_that_customers_records(emulator, resource: str) -> None:
    records = _get(emulator.url, f"/v1/{resource}", limit=100).json()["data"]
    customer = records[0]["customer"]
    mine = _get(emulator.url, f"/v1/{resource}", limit=100, customer=customer).json()["data"]
    assert mine and {r["customer"] for r in mine} == {customer}
    assert {r["id"] for r in records if r["customer"] == customer} <= {r["id"] for r in mine}


def test_documented_filters_are_honoured(emulator) -> None:
    charge = _get(emulator.url, "/v1/charges", limit=1).json()["data"][0]
    by_intent = _get(emulator.url, "/v1/charges", payment_intent=charge["payment_intent"])
    assert [c["id"] for c in by_intent.json()["data"]] == [charge["id"]]
    customer = _get(emulator.url, "/v1/customers", limit=1).json()["data"][0]
    by_email = _get(emulator.url, "/v1/customers", email=customer["email"]).json()["data"]
    assert [c["id"] for c in by_email] == [customer["id"]]
    for status in ("paid", "open"):
        invoices = _get(emulator.url, "/v1/invoices", limit=100, status=status).json()["data"]
        assert invoices and {i["status"] for i in invoices} == {status}
    manual = _get(emulator.url, "/v1/invoices", limit=100, collection_method="send_invoice")
    assert {i["collection_method"] for i in manual.json()["data"]} == {"send_invoice"}
    assert _get(emulator.url, "/v1/invoices", subscription="sub_none").json()["data"] == []


def test_unknown_parameters_are_refused_as_stripe_does(emulator) -> None:
    for path, name in [
        ("/v1/charges", "status"),
        ("/v1/customers", "customer"),
        ("/v1/events", "x"),
    ]:
        response = _get(emulator.url, path, **{name: "1"})
        assert response.status_code == 400
        assert _error(response) == {
            "message": f"Received unknown parameter: {name}",
            "type": "invalid_request_error",
            "code": "parameter_unknown",
            "param": name,
        }
    odd = _get(emulator.url, "/v1/charges", **{"created[after]": "1"})
    assert _error(odd)["param"] == "created[after]"


def test_events_take_type_or_up_to_20_types(emulator) -> None:
    EmulatorControl(emulator.url).advance(days=1, changes={"stripe.charges": {"updated": 3}})
    wanted = ["charge.refunded", "customer.created"]
    body = _get(emulator.url, "/v1/events", limit=100, **{"types[]": wanted}).json()
    assert body["data"] and {e["type"] for e in body["data"]} <= set(wanted)
    many = _get(emulator.url, "/v1/events", **{"types[]": [f"charge.t{n}" for n in range(21)]})
    assert many.status_code == 400 and _error(many)["param"] == "types"
    both = _get(emulator.url, "/v1/events", type="charge.*", **{"types[]": wanted})
    assert both.status_code == 400


def test_stripe_version_is_honoured(emulator) -> None:
    pinned = _get(emulator.url, "/v1/events", version=stripe.api_version, limit=1)
    assert pinned.headers["Stripe-Version"] == stripe.api_version
    assert pinned.json()["data"][0]["api_version"] == stripe.api_version
    assert _get(emulator.url, "/v1/charges", version="2024-06-20").status_code == 200
    for bad in ("2024-13-45", "latest", "2019-2-19"):
        refused = _get(emulator.url, "/v1/charges", version=bad)
        assert refused.status_code == 400
        assert _error(refused)["message"] == f"Invalid Stripe API version: {bad}"
