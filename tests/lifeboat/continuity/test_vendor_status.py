"""Vendor status: freshness against each RPO, failures named by kind, dependencies, no secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lifeboat.config import Runbook, load_inventory
from lifeboat.continuity import vendor_status as vs
from lifeboat.instance import PROJECT_ROOT
from pipelines.registry import vendors


def inventory_with_runbook(tmp_path: Path):
    """The shipped inventory, with Stripe's dependencies and runbook set as a person would."""
    shipped = load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())
    stripe = shipped.vendors["stripe"].model_copy(
        update={
            "depends_on": ["Twilio SMS for sign-in codes", "Google Workspace email"],
            "runbook": Runbook(
                account_owner="Maria (owner) +1 555 0100",
                support="https://support.stripe.com",
                steps=["Call Stripe support", "Switch checkout to invoices"],
            ),
        }
    )
    return shipped.model_copy(update={"vendors": {**shipped.vendors, "stripe": stripe}})


def test_states_follow_the_rpo_and_the_failures(copied_home: Path, tmp_path: Path) -> None:
    inventory = inventory_with_runbook(tmp_path)
    fresh = vs.vendor_status(copied_home, inventory)
    assert {r.state for r in fresh} == {vs.HEALTHY}
    assert {r.vendor for r in fresh} == set(inventory.enabled_vendors())
    charges = next(r for r in fresh if (r.vendor, r.dataset) == ("stripe", "charges"))
    assert charges.rpo_minutes == 30 and charges.rows_held and charges.rpo_met
    assert charges.depends_on == "Twilio SMS for sign-in codes; Google Workspace email"

    later = datetime.now(UTC) + timedelta(minutes=45)
    failures = {"zendesk": vs.Failure("lockout", "zendesk: lockout (403): AccountSuspended")}
    rows = {
        (r.vendor, r.dataset): r
        for r in vs.vendor_status(copied_home, inventory, failures, now=later)
    }
    assert rows[("stripe", "charges")].state == vs.STALE  # 30 min RPO, 45 min old
    assert not rows[("stripe", "charges")].rpo_met
    assert rows[("stripe", "customers")].state == vs.HEALTHY  # 1 h RPO
    assert rows[("zendesk", "tickets")].state == vs.LOCKED_OUT
    assert rows[("zendesk", "tickets")].failure == "zendesk: lockout (403): AccountSuspended"
    grouped = vs.summary(list(rows.values()))
    assert grouped[vs.LOCKED_OUT] == ["Zendesk"]
    assert grouped[vs.STALE] == ["Stripe"]
    assert "HubSpot" in grouped[vs.HEALTHY]


def test_never_copied_vendor_is_said_so(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    home.mkdir()
    rows = vs.vendor_status(home, load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors()))
    assert rows and {r.state for r in rows} == {vs.NEVER}
    assert not any(r.rpo_met for r in rows)


def test_csv_round_trip_and_no_secret_in_a_failure(
    copied_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_verysecret123")
    inventory = load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())
    failures = {
        "stripe": vs.Failure("lockout", "stripe: lockout (401): key sk_live_verysecret123 revoked")
    }
    rows = vs.vendor_status(copied_home, inventory, failures)
    path = vs.write_csv(rows, tmp_path / "vendor_status.csv")
    assert "verysecret" not in path.read_text()
    assert vs.read_csv(path) == rows
    assert rows[0].failure == "stripe: lockout (401): key [redacted] revoked"
