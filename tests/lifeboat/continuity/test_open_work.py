"""Open work over real copies: which tickets, invoices and renewals are listed, and how to reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lifeboat.continuity.catalog import open_catalog
from lifeboat.continuity.contacts import build_contacts
from lifeboat.continuity.open_work import build_open_work, reference_time
from tests.lifeboat.continuity.helpers import one, update_records


def open_work(home: Path, as_of: datetime | None = None) -> tuple[list[dict[str, Any]], datetime]:
    with open_catalog(home) as con:
        build_contacts(con)
        _, used = build_open_work(con, as_of)
        cursor = con.execute("SELECT * FROM open_work")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()], used


def test_waiting_tickets_are_listed_with_the_requesters_contact(copied_home: Path) -> None:
    expected = {
        f"#{ticket_id}": email
        for ticket_id, email in one(
            copied_home,
            "zendesk",
            "SELECT t.id, u.email FROM tickets t JOIN users u ON u.id = t.requester_id "
            "WHERE t.status IN ('new', 'open', 'pending', 'hold') AND NOT t._deleted",
        )
    }
    closed = {
        f"#{ticket_id}"
        for (ticket_id,) in one(
            copied_home,
            "zendesk",
            "SELECT id FROM tickets WHERE status IN ('solved', 'closed', 'deleted') OR _deleted",
        )
    }
    assert expected and closed
    rows, _ = open_work(copied_home)
    tickets = {r["ref"]: r for r in rows if r["kind"] == "ticket"}
    assert {ref: r["contact_email"] for ref, r in tickets.items()} == expected
    assert not closed & set(tickets)


def test_a_missing_phone_is_taken_from_the_persons_other_vendors(copied_home: Path) -> None:
    stripe_phones = dict(
        one(
            copied_home,
            "stripe",
            "SELECT email, phone FROM customers WHERE phone IS NOT NULL AND NOT _deleted",
        )
    )
    ticket_id, user_id, email = next(
        row
        for row in one(
            copied_home,
            "zendesk",
            "SELECT t.id, u.id, u.email FROM tickets t JOIN users u ON u.id = t.requester_id "
            "WHERE t.status IN ('new', 'open', 'pending', 'hold') AND NOT t._deleted ORDER BY t.id",
        )
        if row[2] in stripe_phones
    )
    update_records(copied_home, "zendesk", "UPDATE users SET phone = NULL WHERE id = ?", [user_id])
    rows, _ = open_work(copied_home)
    [ticket] = [r for r in rows if r["ref"] == f"#{ticket_id}"]
    assert ticket["contact_phone"] == stripe_phones[email]
    assert ticket["contact_email"] == email


def test_unpaid_invoices_are_listed_and_overdue_ones_flagged(copied_home: Path) -> None:
    rows, as_of = open_work(copied_home)
    invoices = {r["ref"]: r for r in rows if r["kind"] == "invoice"}
    unpaid = one(
        copied_home,
        "stripe",
        "SELECT number, due_date, customer_email, amount_remaining, upper(currency) FROM invoices "
        "WHERE status IN ('open', 'uncollectible') AND amount_remaining > 0 AND NOT _deleted",
    )
    paid = {
        n
        for (n,) in one(copied_home, "stripe", "SELECT number FROM invoices WHERE status = 'paid'")
    }
    assert set(invoices) == {number for number, *_ in unpaid}
    assert not paid & set(invoices)
    for number, due, email, remaining, currency in unpaid:
        row = invoices[number]
        assert row["overdue"] is (due is not None and due < as_of), number
        assert row["contact_email"] == email
        assert row["amount"].startswith(currency + " ")
        assert row["amount_sort"] == remaining / 100
    assert any(r["overdue"] for r in invoices.values())
    assert any(not r["overdue"] for r in invoices.values())


def test_renewals_are_active_subscriptions_ending_within_the_window(copied_home: Path) -> None:
    as_of = reference_time(open_catalog(copied_home))
    expected = {
        sub_id
        for (sub_id,) in one(
            copied_home,
            "stripe",
            "SELECT id FROM subscriptions WHERE status IN ('active', 'trialing') "
            "AND NOT cancel_at_period_end AND NOT _deleted "
            "AND current_period_end >= ? AND current_period_end < ?",
            [as_of, as_of + timedelta(days=7)],
        )
    }
    assert expected, "the emulator's subscriptions renew within a month"
    rows, used = open_work(copied_home)
    assert used == as_of
    renewals = {r["ref"]: r for r in rows if r["kind"] == "renewal"}
    assert set(renewals) == expected
    assert all(r["contact_email"] and r["amount"] for r in renewals.values())
    # Judged at another time, other subscriptions are the ones renewing soon.
    later, _ = open_work(copied_home, as_of + timedelta(days=14))
    assert {r["ref"] for r in later if r["kind"] == "renewal"} != expected


def test_as_of_is_the_newest_change_copied_never_the_future(copied_home: Path) -> None:
    newest = one(copied_home, "stripe", "SELECT max(_changed_at) FROM charges")[0][0]
    with open_catalog(copied_home) as con:
        as_of = reference_time(con)
        assert as_of >= newest
        assert reference_time(con, now=newest - timedelta(days=1)) == newest - timedelta(days=1)
    assert as_of <= datetime.now(UTC)
