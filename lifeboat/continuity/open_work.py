"""What work is open: tickets waiting, invoices unpaid, subscriptions about to renew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from lifeboat.continuity.catalog import columns, pick, query, union
from lifeboat.continuity.settings import (
    OPEN_TICKET_STATUSES,
    RENEWAL_WINDOW,
    RENEWING_SUBSCRIPTION_STATUSES,
    UNPAID_INVOICE_STATUSES,
    ZERO_DECIMAL_CURRENCIES,
)

_EMPTY = (
    "SELECT NULL::VARCHAR AS kind, NULL::VARCHAR AS vendor, NULL::VARCHAR AS ref, "
    "NULL::VARCHAR AS summary, NULL::VARCHAR AS status, NULL::VARCHAR AS currency, "
    "NULL::HUGEINT AS amount_minor, NULL::TIMESTAMPTZ AS due, NULL::TIMESTAMPTZ AS opened, "
    "NULL::VARCHAR AS contact_name, NULL::VARCHAR AS contact_email, "
    "NULL::VARCHAR AS contact_phone, NULL::VARCHAR AS person_key WHERE false"
)
# The tables whose newest change says "as of when" the copy describes the business.
_CLOCK_TABLES = (
    ("stripe", "invoices"),
    ("stripe", "subscriptions"),
    ("stripe", "charges"),
    ("zendesk", "tickets"),
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def reference_time(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> datetime:
    """When the copy speaks for: its newest change among the records open work is made of.

    A copy is the vendors as they were at their last change we saw, so "overdue" and
    "renewing soon" are judged at that moment (never later than now): a stale copy cannot
    know whether yesterday's renewals went through, and says so by the date it shows.
    """
    now = now or datetime.now(UTC)
    parts = [
        f"SELECT max(_changed_at) AS newest FROM {vendor}.{table}"
        for vendor, table in _CLOCK_TABLES
        if "_changed_at" in columns(con, vendor, table)
    ]
    if not parts:
        return now
    newest = query(con, f"SELECT max(newest) FROM ({' UNION ALL '.join(parts)})")[0][0]
    return min(newest, now) if newest is not None else now


def _tickets(con: duckdb.DuckDBPyConnection) -> str:
    cols = columns(con, "zendesk", "tickets")
    if not cols:
        return ""
    users = columns(con, "zendesk", "users")
    join = (
        "LEFT JOIN zendesk.users u ON u.id = t.requester_id"
        if users
        else "LEFT JOIN (SELECT NULL::BIGINT AS id, NULL::VARCHAR AS name, "
        "NULL::VARCHAR AS email, NULL::VARCHAR AS phone) u ON false"
    )
    return (
        "SELECT 'ticket' AS kind, 'zendesk' AS vendor, '#' || t.id AS ref, "
        f"{pick(cols, 'subject', 'VARCHAR', 't')} AS summary, "
        f"t.status || coalesce(' · ' || {pick(cols, 'priority', 'VARCHAR', 't')}, '') AS status, "
        f"{pick(cols, 'due_at', 'TIMESTAMPTZ', 't')} AS due, "
        f"{pick(cols, 'created_at', 'TIMESTAMPTZ', 't')} AS opened, "
        "u.name AS contact_name, u.email AS contact_email, u.phone AS contact_phone, "
        "coalesce(norm_email(u.email), 'zendesk:users:' || t.requester_id) AS person_key "
        f"FROM zendesk.tickets t {join} "
        f"WHERE t.status IN ({_in(OPEN_TICKET_STATUSES)}) AND NOT coalesce(t._deleted, false)"
    )


def _customer_join(con: duckdb.DuckDBPyConnection, alias: str, on: str) -> str:
    if columns(con, "stripe", "customers"):
        return f"LEFT JOIN stripe.customers {alias} ON {alias}.id = {on}"
    return (
        f"LEFT JOIN (SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS name, NULL::VARCHAR AS email, "
        f"NULL::VARCHAR AS phone) {alias} ON false"
    )


def _invoices(con: duckdb.DuckDBPyConnection) -> str:
    cols = columns(con, "stripe", "invoices")
    if not cols:
        return ""
    remaining = (
        "coalesce(i.amount_remaining, i.amount_due - coalesce(i.amount_paid, 0))"
        if "amount_remaining" in cols
        else "i.amount_due - coalesce(i.amount_paid, 0)"
    )
    return (
        "SELECT 'invoice' AS kind, 'stripe' AS vendor, coalesce(i.number, i.id) AS ref, "
        f"coalesce(replace({pick(cols, 'billing_reason', 'VARCHAR', 'i')}, '_', ' '), 'invoice') "
        "AS summary, i.status AS status, "
        f"lower(i.currency) AS currency, {remaining} AS amount_minor, "
        f"{pick(cols, 'due_date', 'TIMESTAMPTZ', 'i')} AS due, i.created AS opened, "
        f"coalesce({pick(cols, 'customer_name', 'VARCHAR', 'i')}, c.name) AS contact_name, "
        f"coalesce({pick(cols, 'customer_email', 'VARCHAR', 'i')}, c.email) AS contact_email, "
        "c.phone AS contact_phone, "
        f"coalesce(norm_email(coalesce({pick(cols, 'customer_email', 'VARCHAR', 'i')}, c.email)), "
        "'stripe:customers:' || i.customer) AS person_key "
        f"FROM stripe.invoices i {_customer_join(con, 'c', 'i.customer')} "
        f"WHERE i.status IN ({_in(UNPAID_INVOICE_STATUSES)}) AND {remaining} > 0 "
        "AND NOT coalesce(i._deleted, false)"
    )


def _renewals(con: duckdb.DuckDBPyConnection, as_of: datetime, window: timedelta) -> str:
    cols = columns(con, "stripe", "subscriptions")
    if not cols:
        return ""
    # What the next period costs: quantity times unit price over the subscription's items.
    amount = (
        "try(list_sum(list_transform(from_json(s.items, "
        '\'[{"quantity":"BIGINT","price":{"unit_amount":"BIGINT"}}]\'), '
        "lambda x: coalesce(x.quantity, 1) * x.price.unit_amount)))"
        if "items" in cols
        else "NULL::HUGEINT"
    )
    # How many seats the plan has, which is what tells one renewal from another.
    seats = (
        'coalesce(try(list_sum(list_transform(from_json(s.items, \'[{"quantity":"BIGINT"}]\'), '
        "lambda x: coalesce(x.quantity, 1)))) || ' seat(s)', 'subscription')"
        if "items" in cols
        else "'subscription'"
    )
    start = as_of.isoformat()
    end = (as_of + window).isoformat()
    return (
        "SELECT 'renewal' AS kind, 'stripe' AS vendor, s.id AS ref, "
        f"{seats} AS summary, s.status AS status, "
        f"lower(s.currency) AS currency, {amount} AS amount_minor, "
        "s.current_period_end AS due, s.created AS opened, "
        "c.name AS contact_name, c.email AS contact_email, c.phone AS contact_phone, "
        "coalesce(norm_email(c.email), 'stripe:customers:' || s.customer) AS person_key "
        f"FROM stripe.subscriptions s {_customer_join(con, 'c', 's.customer')} "
        f"WHERE s.status IN ({_in(RENEWING_SUBSCRIPTION_STATUSES)}) "
        f"AND NOT coalesce({pick(cols, 'cancel_at_period_end', 'BOOLEAN', 's')}, false) "
        "AND NOT coalesce(s._deleted, false) "
        f"AND s.current_period_end >= '{start}'::TIMESTAMPTZ "
        f"AND s.current_period_end < '{end}'::TIMESTAMPTZ"
    )


def build_open_work(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None = None,
    window: timedelta = RENEWAL_WINDOW,
) -> tuple[int, datetime]:
    """Create the temp table `open_work` (needs `contacts`); returns rows and the time used.

    A phone missing from the vendor's own record is taken from the merged contacts, so
    whoever works through the list has every way to reach the person lifeboat knows.
    """
    as_of = as_of or reference_time(con)
    zero_decimal = _in(tuple(sorted(ZERO_DECIMAL_CURRENCIES)))
    source = union([_tickets(con), _invoices(con), _renewals(con, as_of, window)], _EMPTY)
    query(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE open_work AS
        WITH work AS (SELECT * FROM ({source}))
        SELECT
            w.kind, w.vendor, w.ref, w.summary, w.status,
            CASE WHEN w.amount_minor IS NULL THEN NULL
                ELSE upper(w.currency) || ' ' || format(
                    CASE WHEN w.currency IN ({zero_decimal}) THEN '{{:,.0f}}'
                    ELSE '{{:,.2f}}' END,
                    w.amount_minor::DOUBLE
                        / CASE WHEN w.currency IN ({zero_decimal}) THEN 1 ELSE 100 END)
                END AS amount,
            w.amount_minor::DOUBLE
                / CASE WHEN w.currency IN ({zero_decimal}) THEN 1 ELSE 100 END AS amount_sort,
            w.due,
            coalesce(w.kind <> 'renewal' AND w.due < '{as_of.isoformat()}'::TIMESTAMPTZ, false)
                AS overdue,
            w.opened,
            coalesce(w.contact_name, c.name) AS contact_name,
            coalesce(w.contact_email, c.email) AS contact_email,
            coalesce(nullif(trim(w.contact_phone), ''), c.phone) AS contact_phone,
            c.person_id
        FROM work w LEFT JOIN contacts c ON c.person_id = w.person_key
        ORDER BY list_position(['ticket', 'invoice', 'renewal'], w.kind), overdue DESC,
            w.due NULLS LAST, w.opened, w.ref
        """,
    )
    return query(con, "SELECT count(*) FROM open_work")[0][0], as_of
