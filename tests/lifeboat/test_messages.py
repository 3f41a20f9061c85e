"""Each kind of failure reads as its own plain message: what happened, the copy, what next."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lifeboat.config import load_inventory
from lifeboat.errors import (
    SchemaDrift,
    SuspectedShrink,
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from lifeboat.messages import (
    Facts,
    Held,
    explain,
    explain_catching_up,
    explain_recovered,
    explain_stale,
    gather_facts,
    vendor_error_in,
)
from pipelines.registry import vendors

COPIED = datetime(2026, 11, 20, 14, 2, tzinfo=UTC)
STRIPE = Facts(
    vendor="stripe",
    held=(Held("charges", 12_345, COPIED), Held("customers", 800, COPIED - timedelta(minutes=5))),
    credential_envs={"api_key": "STRIPE_API_KEY"},
    job="copy_stripe",
)


def test_lockout_names_the_key_variable_and_says_the_copy_is_intact() -> None:
    text = explain(VendorLockout("stripe", "Invalid API Key", status=401), STRIPE)
    assert text.startswith("Stripe rejected the API key (401): the account may be locked")
    copy = "your copy of 12,345 charges, 800 customers from 2026-11-20 14:02 UTC is intact"
    assert f"; {copy};" in text
    assert "; check the API key in STRIPE_API_KEY, then run the copy again (job copy_stripe" in text


def test_a_dataset_error_speaks_of_that_dataset_only() -> None:
    error = VendorLockout("stripe", "forbidden", status=403, dataset="charges")
    assert "your copy of 12,345 charges from 2026-11-20 14:02 UTC is intact;" in explain(
        error, STRIPE
    )


def test_zendesk_lockout_names_both_credentials() -> None:
    facts = Facts(
        "zendesk",
        (Held("tickets", 40, COPIED),),
        {"email": "ZENDESK_EMAIL", "api_token": "ZENDESK_API_TOKEN"},
        job="copy_zendesk",
        support="+1 555 0100",
    )
    text = explain(VendorLockout("zendesk", "Couldn't authenticate you", status=401), facts)
    assert "Zendesk rejected the sign-in email and API token (401)" in text
    assert "in ZENDESK_EMAIL and ZENDESK_API_TOKEN" in text
    assert "contact Zendesk support: +1 555 0100" in text


@pytest.mark.parametrize(
    ("error", "opening", "next_step"),
    [
        (
            VendorOutage("stripe", "503 Service Unavailable", status=503),
            "Stripe is not answering (503): its service looks down;",
            "catches up what was missed when Stripe is back",
        ),
        (
            VendorRateLimited("stripe", "Too many requests", status=429, retry_after=30),
            "Stripe kept refusing requests as too many (429) (it asked to wait 30s)",
            "raise the rpo of stripe in lifeboat.yaml",
        ),
        (
            VendorBadResponse("stripe", "body is not JSON"),
            "Stripe sent an answer lifeboat could not read, so nothing was changed;",
            "send the run's log to whoever maintains lifeboat",
        ),
        (
            SchemaDrift("stripe", "charges.amount changed from bigint to text"),
            "Stripe changed the shape of its data: the changed field was set aside, not dropped;",
            "review the change",
        ),
        (
            SuspectedShrink("stripe", "listed 3 charges, the copy holds 12,345"),
            "Stripe suddenly lists far fewer records than your copy holds",
            "so lifeboat changed nothing",
        ),
    ],
)
def test_every_kind_has_its_own_wording(error: VendorError, opening: str, next_step: str) -> None:
    text = explain(error, STRIPE)
    assert text.startswith(opening)
    assert next_step in text
    assert "is intact;" in text
    if error.status:
        assert text.endswith(f'(Stripe answered "{error.detail}").')
    else:
        assert text.endswith(f'({error.kind}: "{error.detail}").')
    assert ". " not in text  # one sentence


def test_the_vendors_answer_closes_the_message_as_what_it_answered() -> None:
    # An HTML error page reaches explain() as its title (pipelines.http.error_detail).
    text = explain(VendorOutage("stripe", "503 Service Unavailable", status=503), STRIPE)
    assert text.startswith("Stripe is not answering (503): its service looks down;")
    assert text.endswith('(Stripe answered "503 Service Unavailable").')
    assert "outage:" not in text
    # When the vendor said nothing (no answer, an unreadable one), what lifeboat saw closes it.
    refused = VendorOutage("stripe", "the connection was refused")
    assert explain(refused, STRIPE).endswith('(outage: "the connection was refused").')
    unreadable = VendorBadResponse("stripe", "the body is not valid JSON", status=200)
    text = explain(unreadable, STRIPE)
    assert text.endswith('(bad response: "the body is not valid JSON").')
    assert "answered" not in text  # lifeboat's words, not Stripe's


@pytest.mark.parametrize(
    ("missed", "days"),
    [
        (["2026-12-05"], "the day its copy missed (2026-12-05)"),
        (["2026-12-05", "2026-12-06"], "the 2 days its copy missed (2026-12-05 and 2026-12-06)"),
        (
            ["2026-12-04", "2026-12-05", "2026-12-06"],
            "the 3 days its copy missed (2026-12-04, 2026-12-05 and 2026-12-06)",
        ),
    ],
)
def test_catching_up_is_one_sentence_naming_the_vendor_and_the_days(
    missed: list[str], days: str
) -> None:
    text = explain_catching_up("Stripe", missed)
    assert text == (
        f"Stripe answers again, so lifeboat is catching up on {days} in one backfill run."
    )
    assert text.count(". ") == 0 and text.endswith(".")


def test_without_any_copy_the_message_does_not_pretend_one_is_intact() -> None:
    text = explain(VendorLockout("ga4", "denied", status=403), Facts("ga4"))
    assert "there is no copy of Google Analytics 4 yet" in text
    assert "intact" not in text


def test_vendor_text_that_echoes_a_key_is_scrubbed() -> None:
    error = VendorLockout("stripe", "Invalid API Key provided: sk_live_51Habc123XYZ", status=401)
    text = explain(error, STRIPE, secrets=("unused-secret",))
    assert "sk_live_51Habc123XYZ" not in text
    assert "Invalid API Key provided: [redacted]" in text


def test_stale_and_recovered_messages_give_age_cause_and_step() -> None:
    now = COPIED + timedelta(hours=2, minutes=10)
    text = explain_stale(STRIPE, "charges", timedelta(minutes=30), "locked_out", now)
    assert text.startswith("Your copy of 12,345 Stripe charges is 2h 10m old")
    assert "past the 30m allowed, because Stripe refused the credentials" in text
    assert "Check the credentials in STRIPE_API_KEY, then run copy_stripe again." in text
    off = explain_stale(STRIPE, "charges", timedelta(minutes=30), "schedule_off", now)
    assert "because the schedule stripe_every_rpo is switched off" in off
    back = explain_recovered(STRIPE, "charges", "stale")
    assert back == (
        "Your copy of Stripe charges is fresh again: 12,345 held, copied 2026-11-20 14:02 UTC "
        "(it was stale)."
    )


def test_facts_come_from_the_manifest_and_the_inventory(tmp_path: Path) -> None:
    config = tmp_path / "lifeboat.yaml"
    config.write_text(
        "vendors:\n  stripe:\n    credentials: {api_key: ACME_STRIPE_KEY}\n"
        "    runbook: {support: 'https://support.stripe.com'}\n"
    )
    home = tmp_path / "home"
    manifest = home / "snapshots" / "stripe" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(
        json.dumps(
            {"tables": {"charges": {"rows": 321, "copied_at": COPIED.isoformat(), "parts": []}}}
        )
    )
    facts = gather_facts("stripe", home, load_inventory(config, vendors()))
    assert facts.credential_envs == {"api_key": "ACME_STRIPE_KEY"}
    text = explain(VendorLockout("stripe", "no", status=401), facts)
    assert "your copy of 321 charges from 2026-11-20 14:02 UTC is intact;" in text
    assert "check the API key in ACME_STRIPE_KEY" in text
    assert "contact Stripe support: https://support.stripe.com" in text


def test_the_vendor_error_is_found_behind_the_wrapping() -> None:
    lockout = VendorLockout("stripe", "Invalid API Key", status=401)
    try:
        try:
            raise lockout
        except VendorError as inner:
            raise RuntimeError("Pipeline execution failed at step=extract") from inner
    except RuntimeError as outer:
        assert vendor_error_in(outer) is lockout
    assert vendor_error_in(ValueError("unrelated")) is None
