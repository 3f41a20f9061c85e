"""The Stripe connector copies what Stripe's contract says it must: every subscription
change, deletions only of what is gone, a full listing past the event window, rate limits."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import requests
import stripe

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from lifeboat.errors import SuspectedShrink
from pipelines.base import RetryPolicy, VendorContext
from pipelines.runner import sync, warehouse_path
from pipelines.stripe.settings import API_VERSION
from tests.pipelines.test_stripe import stripe as stripe_context

KEY = demo_credentials(["stripe"])["stripe"]["api_key"]


def stripe_ctx(url: str, *datasets: str) -> VendorContext:
    """The connector's context, patient enough for the read rate limit's 429s."""
    return stripe_context(url, *datasets, retries=RetryPolicy(max_attempts=8, budget_seconds=30))


def query(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute(sql).fetchall()


def truth(url: str, resource: str, **params: str) -> dict[str, dict]:
    """Every object Stripe (the emulator) lists, by id, paged with the official client."""
    client = stripe.StripeClient(KEY, base_addresses={"api": f"{url}/stripe"})
    listing = getattr(client.v1, resource).list({"limit": 100, **params})
    return {obj.id: obj.to_dict() for obj in listing.auto_paging_iter()}


def test_subscription_creation_update_and_cancellation_reach_the_copy(emulator, home) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe_ctx(emulator.url, "subscriptions"), home)
    control.advance(days=3, changes={"stripe.subscriptions": {"updated": 24}})
    sync(stripe_ctx(emulator.url, "subscriptions"), home)
    stripe_says = truth(emulator.url, "subscriptions", status="all")
    copy = {
        row[0]: row[1:]
        for row in query(home, "SELECT id, status, canceled_at, _deleted FROM subscriptions")
    }
    assert {i: s["status"] for i, s in stripe_says.items()} == {i: r[0] for i, r in copy.items()}
    canceled = [i for i, s in stripe_says.items() if s["status"] == "canceled"]
    assert canceled, "the clock's changes canceled no subscription"
    assert all(copy[i][1] is not None and copy[i][2] is False for i in canceled)
    assert len(copy) == 150 + 6  # created over three days, none lost


def test_customers_copy_holds_customers_only(emulator, home) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe_ctx(emulator.url, "customers"), home)
    control.advance(days=1, changes={"stripe.subscriptions": {"updated": 10}})
    sync(stripe_ctx(emulator.url, "customers"), home)
    ids = [row[0] for row in query(home, "SELECT id FROM customers")]
    assert ids and all(i.startswith("cus_") for i in ids)


def test_deleted_customers_are_marked_and_canceled_subscriptions_are_not(emulator, home) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe_ctx(emulator.url, "customers"), home)
    control.advance(days=1, changes={"stripe.customers": {"deleted": 3}})
    sync(stripe_ctx(emulator.url, "customers"), home)
    marked = query(home, "SELECT count(*) FROM customers WHERE _deleted")[0][0]
    assert marked == 3


def test_current_objects_fill_the_period_and_paid_columns(emulator, home) -> None:
    sync(stripe_ctx(emulator.url, "subscriptions", "invoices"), home)
    assert query(home, "SELECT count(*) FROM subscriptions WHERE current_period_end IS NULL") == [
        (0,)
    ]
    mismatched = "SELECT count(*) FROM invoices WHERE paid IS DISTINCT FROM (status = 'paid')"
    assert query(home, mismatched) == [(0,)]


def test_the_connector_speaks_the_version_stripes_models_describe(emulator) -> None:
    assert stripe.api_version == API_VERSION
    response = requests.get(
        f"{emulator.url}/stripe/v1/charges",
        headers={"Authorization": f"Bearer {KEY}", "Stripe-Version": API_VERSION},
        timeout=10,
    )
    assert response.headers["Stripe-Version"] == API_VERSION


def test_a_cursor_older_than_stripes_30_days_of_events_lists_everything(emulator, home) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe_ctx(emulator.url, "customers"), home)
    control.advance(days=31, changes={"stripe.customers": {"updated": 5}})
    control.reset_counters()
    result = sync(stripe_ctx(emulator.url, "customers"), home)
    assert control.served("stripe")["customers"] == len(truth(emulator.url, "customers"))
    assert result.tables["customers"].rows_held == 200 + 155


def test_a_short_full_listing_past_the_event_window_is_refused(emulator, home) -> None:
    control = EmulatorControl(emulator.url)
    sync(stripe_ctx(emulator.url, "customers"), home)
    before = query(home, "SELECT * FROM customers ORDER BY id")
    control.advance(days=31)
    control.fault("stripe", "partial", share=0.3)
    with pytest.raises(SuspectedShrink, match="customers"):
        sync(stripe_ctx(emulator.url, "customers"), home)
    assert query(home, "SELECT * FROM customers ORDER BY id") == before


def test_read_rate_limits_are_ridden_out(emulator, home) -> None:
    control = EmulatorControl(emulator.url)
    # Every other request over Stripe's read limit: 429 with Stripe-Should-Retry, no
    # Retry-After (https://docs.stripe.com/rate-limits).
    control.fault("stripe", "rate_limit", every=2)
    result = sync(stripe_ctx(emulator.url, "customers", "subscriptions"), home)
    assert result.tables["customers"].rows_held == 200
    assert result.tables["subscriptions"].rows_held == 150
    assert control.requests("stripe") > 4  # four pages, and the refused requests again
