"""Contacts over real copies of the emulators: matching, no email, deletions, consent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lifeboat.continuity.catalog import open_catalog, prepare, query
from lifeboat.continuity.contacts import build_contacts
from lifeboat.continuity.report import write_contacts
from tests.lifeboat.continuity.helpers import add_record, one, update_records


def contacts(home: Path) -> list[dict[str, Any]]:
    with open_catalog(home) as con:
        build_contacts(con)
        cursor = con.execute("SELECT * FROM contacts")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def by_email(rows: list[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["email"] == email]


def a_live_stripe_customer(home: Path) -> tuple[str, str, str]:
    """(id, email, name) of a Stripe customer who is also in HubSpot and Mailchimp."""
    emails = {
        row[0] for row in one(home, "hubspot", "SELECT email FROM contacts WHERE NOT _deleted")
    } & {
        row[0]
        for row in one(
            home, "mailchimp", "SELECT email_address FROM members WHERE status = 'subscribed'"
        )
    }
    rows = one(
        home,
        "stripe",
        "SELECT id, email, name FROM customers WHERE NOT _deleted ORDER BY id",
    )
    return next(row for row in rows if row[1] in emails)


def test_one_row_per_email_and_vendors_are_merged(copied_home: Path) -> None:
    rows = contacts(copied_home)
    emails = [r["email"] for r in rows if r["email"]]
    assert len(emails) == len(set(emails)), "a person appears twice"
    _customer_id, email, name = a_live_stripe_customer(copied_home)
    [row] = by_email(rows, email)
    assert {"stripe", "hubspot", "mailchimp"} <= set(row["vendors"].split(", "))
    assert row["name"] == name
    # Every live Stripe customer with an email is a contact.
    live = one(copied_home, "stripe", "SELECT lower(trim(email)) FROM customers WHERE NOT _deleted")
    assert {e for (e,) in live} <= set(emails)


def test_same_person_with_other_case_and_spaces_is_merged_keeping_both_names(
    copied_home: Path,
) -> None:
    _customer_id, email, name = a_live_stripe_customer(copied_home)
    add_record(
        copied_home,
        "zendesk",
        "users",
        id=999_000_001,
        email=f"  {email.upper()}\t",
        name="Dr. Someone Else",
        phone=None,
        role="end-user",
        _deleted=False,
    )
    rows = contacts(copied_home)
    [row] = by_email(rows, email)
    assert "zendesk" in row["vendors"].split(", ")
    assert row["name"] == name, "Stripe's name comes first"
    assert "stripe" in row["name_from"].split(", ")
    assert "name Dr. Someone Else (zendesk)" in row["conflicts"]
    assert not [r for r in rows if r["email"] and r["email"] != r["email"].strip().casefold()]


def test_unicode_names_and_addresses_match_and_survive_the_export(copied_home: Path) -> None:
    add_record(
        copied_home,
        "hubspot",
        "contacts",
        id="9990001",
        email="Zoë.Ångström@Exämple.com",
        firstname="Zoë",
        lastname="Ångström-Ñúñez",
        phone="+46 8 123 456",
        _deleted=False,
        archived=False,
    )
    add_record(
        copied_home,
        "zendesk",
        "users",
        id=999_000_002,
        email=" ZOË.ÅNGSTRÖM@EXÄMPLE.COM ",
        name="Zoë Ångström-Ñúñez",
        phone=None,
        role="end-user",
        _deleted=False,
    )
    add_record(
        copied_home,
        "mailchimp",
        "members",
        id="straße-1",
        email_address="STRASSE@example.com",
        full_name="Jörg Straße",
        phone=None,
        status="subscribed",
        _deleted=False,
    )
    add_record(
        copied_home,
        "hubspot",
        "contacts",
        id="9990002",
        email="straße@example.com",
        firstname="Jörg",
        lastname="Straße",
        _deleted=False,
        archived=False,
    )
    with open_catalog(copied_home) as con:
        write_contacts(con, copied_home)
    with duckdb.connect() as con:
        csv = copied_home / "continuity" / "contacts.csv"
        rows = con.execute(
            f"SELECT name, email, phone, vendors FROM read_csv('{csv}') "
            "WHERE email IN ('zoë.ångström@exämple.com', 'strasse@example.com')"
            " ORDER BY email"
        ).fetchall()
    assert rows == [
        ("Jörg Straße", "strasse@example.com", None, "hubspot, mailchimp"),
        ("Zoë Ångström-Ñúñez", "zoë.ångström@exämple.com", "+46 8 123 456", "hubspot, zendesk"),
    ]


def test_people_without_email_stay_one_row_per_record(copied_home: Path) -> None:
    for user_id in (999_000_010, 999_000_011):
        add_record(
            copied_home,
            "zendesk",
            "users",
            id=user_id,
            email=None,
            name="Sam Noemail",
            phone="+15550001111",
            role="end-user",
            _deleted=False,
        )
    rows = contacts(copied_home)
    sams = [r for r in rows if r["name"] == "Sam Noemail"]
    assert sorted(r["person_id"] for r in sams) == [
        "zendesk:users:999000010",
        "zendesk:users:999000011",
    ]
    assert all(r["phone"] == "+15550001111" and r["email"] is None for r in sams)
    # YouTube subscribers carry no email: each is a row of its own, reachable by channel.
    subscribers = one(
        copied_home,
        "youtube",
        "SELECT count(*) FROM subscribers WHERE NOT _deleted AND subscriber_channel_id NOT NULL",
    )[0][0]
    youtube = [r for r in rows if r["vendors"] == "youtube"]
    assert len(youtube) == subscribers > 0
    assert all(r["channel_url"].startswith("https://www.youtube.com/channel/UC") for r in youtube)


def test_records_deleted_upstream_are_left_out_or_flagged(copied_home: Path) -> None:
    deleted = one(
        copied_home, "stripe", "SELECT id, lower(email), name FROM customers WHERE _deleted"
    )
    assert deleted, "the emulator deleted customers between the two syncs"
    rows = contacts(copied_home)
    elsewhere = (
        {
            e
            for (e,) in one(
                copied_home, "hubspot", "SELECT lower(email) FROM contacts WHERE NOT _deleted"
            )
        }
        | {
            e
            for (e,) in one(
                copied_home,
                "mailchimp",
                "SELECT lower(email_address) FROM members WHERE NOT _deleted",
            )
        }
        | {
            e
            for (e,) in one(
                copied_home, "zendesk", "SELECT lower(email) FROM users WHERE NOT _deleted"
            )
        }
    )
    for _, email, _ in deleted:
        found = by_email(rows, email)
        if email in elsewhere:
            [row] = found
            assert "stripe" not in row["vendors"].split(", ")
            assert "stripe" in row["deleted_in"]
        else:
            assert found == [], f"{email} exists only as a deleted record"


def test_marketing_only_for_those_never_unsubscribed_cleaned_or_archived(copied_home: Path) -> None:
    _customer_id, email, _ = a_live_stripe_customer(copied_home)
    # Subscribed on one audience, unsubscribed on another: not reachable for marketing.
    add_record(
        copied_home,
        "mailchimp",
        "members",
        list_id="otherlist1",
        id="x-unsub",
        email_address=email.upper(),
        status="unsubscribed",
        _deleted=False,
    )
    rows = contacts(copied_home)
    [row] = by_email(rows, email)
    assert row["marketing_ok"] is False
    assert "unsubscribed" in row["marketing"]
    # The rule, checked over every contact against the Mailchimp copy itself.
    blocked = {
        e
        for (e,) in one(
            copied_home,
            "mailchimp",
            "SELECT lower(trim(email_address)) FROM members "
            "WHERE status IN ('unsubscribed', 'cleaned', 'archived') OR _deleted",
        )
    }
    subscribed = {
        e
        for (e,) in one(
            copied_home,
            "mailchimp",
            "SELECT lower(trim(email_address)) FROM members "
            "WHERE status = 'subscribed' AND NOT _deleted",
        )
    }
    assert blocked and subscribed - blocked
    ok = {r["email"] for r in rows if r["marketing_ok"]}
    assert ok == subscribed - blocked
    archived = one(copied_home, "mailchimp", "SELECT count(*) FROM members WHERE _deleted")
    assert archived[0][0] > 0


def test_lifetime_payments_are_succeeded_charges_less_refunds(copied_home: Path) -> None:
    customer_id, email, _ = a_live_stripe_customer(copied_home)
    update_records(
        copied_home,
        "stripe",
        "UPDATE charges SET amount_refunded = amount // 2 WHERE id = ("
        "SELECT min(id) FROM charges WHERE customer = ? AND status = 'succeeded')",
        [customer_id],
    )
    charges = one(
        copied_home,
        "stripe",
        "SELECT upper(currency), amount, amount_refunded, status FROM charges WHERE customer = ?",
        [customer_id],
    )
    expected: dict[str, int] = {}
    for currency, amount, refunded, status in charges:
        if status == "succeeded":
            expected[currency] = expected.get(currency, 0) + amount - (refunded or 0)
    assert expected
    [row] = by_email(contacts(copied_home), email)
    shown = dict(part.split(" ") for part in row["lifetime_paid"].split("; "))
    assert {c: float(v.replace(",", "")) for c, v in shown.items()} == pytest.approx(
        {c: v / 100 for c, v in expected.items()}
    )
    assert row["payments"] == sum(1 for *_, status in charges if status == "succeeded")


def test_open_tickets_and_last_activity(copied_home: Path) -> None:
    counts = dict(
        one(
            copied_home,
            "zendesk",
            "SELECT lower(u.email), count(*) FROM tickets t JOIN users u ON u.id = t.requester_id "
            "WHERE t.status IN ('new', 'open', 'pending', 'hold') AND NOT t._deleted "
            "AND u.role = 'end-user' AND u.email IS NOT NULL GROUP BY 1",
        )
    )
    assert counts
    rows = {r["email"]: r for r in contacts(copied_home) if r["email"]}
    for email, count in counts.items():
        assert rows[email]["open_tickets"] == count
    assert sum(r["open_tickets"] for r in rows.values()) == sum(counts.values())
    assert all(r["last_activity"] is not None for r in rows.values())
    assert max(r["last_activity"] for r in rows.values()) <= datetime.now(UTC)


def test_norm_email_folds_like_python() -> None:
    samples = ["  Ada@Example.COM ", "STRASSE@x.de", "Straße@X.de", "ΣΊΣΥΦΟΣ@x.gr", "", None]
    with prepare(duckdb.connect()) as con:
        got = [query(con, "SELECT norm_email(?)", [s])[0][0] for s in samples]
    assert got == [
        "ada@example.com",
        "strasse@x.de",
        "strasse@x.de",
        "  ΣΊΣΥΦΟΣ@x.gr".strip().casefold(),
        None,
        None,
    ]


def test_a_vendor_not_copied_is_simply_absent(copied_home: Path) -> None:
    (copied_home / "warehouse" / "hubspot.duckdb").unlink()
    (copied_home / "warehouse" / "youtube.duckdb").unlink()
    rows = contacts(copied_home)
    assert rows
    assert not any("hubspot" in r["vendors"] or "youtube" in r["vendors"] for r in rows)
