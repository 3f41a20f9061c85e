"""Stripe's official Python client pages, filters and fails auth against the emulator."""

from __future__ import annotations

import pytest
import stripe

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials

KEY = demo_credentials(["stripe"])["stripe"]["api_key"]


def client(url: str, key: str = KEY, **options) -> stripe.StripeClient:
    return stripe.StripeClient(
        key, base_addresses={"api": f"{url}/stripe"}, max_network_retries=0, **options
    )


def live(url: str, dataset: str) -> int:
    state = EmulatorControl(url).state()["datasets"][f"stripe.{dataset}"]
    return state["created"] - state["deleted"]


def test_the_client_pages_every_dataset_to_the_end(make_emulator) -> None:
    server = make_emulator({"stripe.charges": 1234, "stripe.invoices": 345})
    control = EmulatorControl(server.url)
    control.advance(days=2, changes={"stripe.subscriptions": {"updated": 20}})
    api = client(server.url).v1
    listings = {
        "customers": api.customers.list({"limit": 100}),
        "charges": api.charges.list({"limit": 100}),
        "invoices": api.invoices.list({"limit": 100}),
        "subscriptions": api.subscriptions.list({"limit": 100, "status": "all"}),
    }
    for dataset, listing in listings.items():
        ids = [obj.id for obj in listing.auto_paging_iter()]
        assert len(ids) == len(set(ids)) == live(server.url, dataset), dataset
    active = list(api.subscriptions.list({"limit": 100}).auto_paging_iter())
    assert len(active) < live(server.url, "subscriptions")
    assert all(s.status != "canceled" for s in active)


def test_the_clients_incremental_filters_find_just_what_changed(emulator) -> None:
    control = EmulatorControl(emulator.url)
    before = control.state()["now"]
    control.advance(days=1, changes={"stripe.subscriptions": {"updated": 4}})
    api = client(emulator.url).v1
    new = api.charges.list({"limit": 100, "created": {"gte": before}}).auto_paging_iter()
    new_ids = [c.id for c in new]
    assert len(new_ids) == live(emulator.url, "charges") - 2000 > 0
    changed = api.events.list(
        {"limit": 100, "type": "customer.subscription.*", "created": {"gt": before}}
    ).auto_paging_iter()
    kinds = [e.type for e in changed]
    assert kinds.count("customer.subscription.created") == live(emulator.url, "subscriptions") - 150
    assert len([k for k in kinds if k != "customer.subscription.created"]) == 4
    typed = api.events.list(
        {"limit": 100, "types": ["charge.succeeded", "charge.failed"], "created": {"gt": before}}
    ).auto_paging_iter()
    assert sorted(e.data.object.id for e in typed) == sorted(new_ids)


def test_a_wrong_key_raises_the_clients_authentication_error(emulator) -> None:
    with pytest.raises(stripe.AuthenticationError) as refused:
        client(emulator.url, "sk_test_0000000000000000wxyz").v1.charges.list()
    assert refused.value.http_status == 401
    assert "Invalid API Key provided: sk_test_****wxyz" in str(refused.value)


def test_an_unknown_version_raises_the_clients_invalid_request_error(emulator) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="Invalid Stripe API version"):
        client(emulator.url, stripe_version="2024-02-30").v1.customers.list()


def test_a_rate_limit_raises_the_clients_rate_limit_error(emulator) -> None:
    EmulatorControl(emulator.url).fault("stripe", "rate_limit")
    with pytest.raises(stripe.RateLimitError):
        client(emulator.url).v1.customers.list()
