"""Who the customers are and how to reach them: one row per person across every vendor."""

from __future__ import annotations

import duckdb

from lifeboat.continuity.catalog import columns, pick, query, union
from lifeboat.continuity.settings import (
    MARKETING_OK_STATUS,
    NO_MARKETING_STATUSES,
    OPEN_TICKET_STATUSES,
    SOURCE_PRIORITY,
    YOUTUBE_CHANNEL_URL,
    ZERO_DECIMAL_CURRENCIES,
)

# The people tables: vendor, dataset, and how each column of a person record is read there.
_RECORD_EMPTY = (
    "SELECT NULL::VARCHAR AS vendor, NULL::VARCHAR AS dataset, NULL::VARCHAR AS record_id, "
    "NULL::VARCHAR AS email_raw, NULL::VARCHAR AS name, NULL::VARCHAR AS phone, "
    "NULL::BOOLEAN AS deleted, NULL::TIMESTAMPTZ AS changed_at, "
    "NULL::VARCHAR AS marketing_status, NULL::VARCHAR AS channel_url WHERE false"
)


def _sql_list(values: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))


def _person_records(con: duckdb.DuckDBPyConnection) -> str:
    """One SELECT over every people table the copies hold, in a common shape."""
    parts = []
    cols = columns(con, "stripe", "customers")
    if cols:
        parts.append(
            "SELECT 'stripe' AS vendor, 'customers' AS dataset, id::VARCHAR AS record_id, "
            f"{pick(cols, 'email')} AS email_raw, {pick(cols, 'name')} AS name, "
            f"{pick(cols, 'phone')} AS phone, coalesce(_deleted, false) AS deleted, "
            "_changed_at AS changed_at FROM stripe.customers"
        )
    cols = columns(con, "hubspot", "contacts")
    if cols:
        parts.append(
            "SELECT 'hubspot' AS vendor, 'contacts' AS dataset, id::VARCHAR AS record_id, "
            f"{pick(cols, 'email')} AS email_raw, "
            f"concat_ws(' ', {pick(cols, 'firstname')}, {pick(cols, 'lastname')}) AS name, "
            f"{pick(cols, 'phone')} AS phone, "
            f"coalesce(_deleted, {pick(cols, 'archived', 'BOOLEAN')}, false) AS deleted, "
            "_changed_at AS changed_at FROM hubspot.contacts"
        )
    cols = columns(con, "zendesk", "users")
    if cols:
        # Agents and admins are the business's own staff, not people it serves.
        parts.append(
            "SELECT 'zendesk' AS vendor, 'users' AS dataset, id::VARCHAR AS record_id, "
            f"{pick(cols, 'email')} AS email_raw, {pick(cols, 'name')} AS name, "
            f"{pick(cols, 'phone')} AS phone, coalesce(_deleted, false) AS deleted, "
            "_changed_at AS changed_at FROM zendesk.users "
            f"WHERE coalesce({pick(cols, 'role')}, 'end-user') = 'end-user'"
        )
    cols = columns(con, "mailchimp", "members")
    if cols:
        parts.append(
            "SELECT 'mailchimp' AS vendor, 'members' AS dataset, "
            "concat_ws(':', list_id, id) AS record_id, "
            f"{pick(cols, 'email_address')} AS email_raw, "
            f"coalesce({pick(cols, 'full_name')}, concat_ws(' ', {pick(cols, 'first_name')}, "
            f"{pick(cols, 'last_name')})) AS name, {pick(cols, 'phone')} AS phone, "
            "coalesce(_deleted, false) OR status = 'archived' AS deleted, "
            "_changed_at AS changed_at, status AS marketing_status FROM mailchimp.members"
        )
    cols = columns(con, "youtube", "subscribers")
    if cols:
        # YouTube shares no email: a public subscriber is reachable only through the channel.
        parts.append(
            "SELECT 'youtube' AS vendor, 'subscribers' AS dataset, "
            "id::VARCHAR AS record_id, NULL AS email_raw, "
            f"{pick(cols, 'subscriber_title')} AS name, NULL AS phone, "
            "coalesce(_deleted, false) AS deleted, _changed_at AS changed_at, "
            f"'{YOUTUBE_CHANNEL_URL}' || {pick(cols, 'subscriber_channel_id')} AS channel_url "
            "FROM youtube.subscribers "
            # Only public subscriptions name the subscriber; the others are nobody to reach.
            f"WHERE {pick(cols, 'subscriber_channel_id')} IS NOT NULL"
        )
    return union(parts, _RECORD_EMPTY)


def _payments(con: duckdb.DuckDBPyConnection) -> str:
    """Succeeded charges less refunds, keyed like the contacts: the customer's email first."""
    charges = columns(con, "stripe", "charges")
    if not charges:
        return (
            "SELECT NULL::VARCHAR AS person_key, NULL::VARCHAR AS currency, "
            "NULL::HUGEINT AS net, NULL::TIMESTAMPTZ AS created WHERE false"
        )
    customers = columns(con, "stripe", "customers")
    join = (
        "LEFT JOIN stripe.customers c ON c.id = ch.customer"
        if customers
        else "LEFT JOIN (SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS email) c ON false"
    )
    return (
        "SELECT coalesce(norm_email(c.email), 'stripe:customers:' || c.id, "
        f"norm_email({pick(charges, 'billing_email', alias='ch')}), "
        f"norm_email({pick(charges, 'receipt_email', alias='ch')})) AS person_key, "
        "lower(ch.currency) AS currency, "
        "ch.amount - coalesce(ch.amount_refunded, 0) AS net, ch.created AS created "
        f"FROM stripe.charges ch {join} "
        "WHERE ch.status = 'succeeded' AND NOT coalesce(ch._deleted, false)"
    )


def _tickets(con: duckdb.DuckDBPyConnection) -> str:
    """Every live ticket, keyed by its requester like the contacts."""
    tickets = columns(con, "zendesk", "tickets")
    if not tickets:
        return (
            "SELECT NULL::VARCHAR AS person_key, NULL::VARCHAR AS status, "
            "NULL::TIMESTAMPTZ AS updated_at WHERE false"
        )
    users = columns(con, "zendesk", "users")
    join = (
        "LEFT JOIN zendesk.users u ON u.id = t.requester_id"
        if users
        else "LEFT JOIN (SELECT NULL::BIGINT AS id, NULL::VARCHAR AS email) u ON false"
    )
    return (
        "SELECT coalesce(norm_email(u.email), 'zendesk:users:' || t.requester_id) AS person_key, "
        "t.status, coalesce(t.updated_at, t._changed_at) AS updated_at "
        f"FROM zendesk.tickets t {join} "
        "WHERE NOT coalesce(t._deleted, false) AND t.status <> 'deleted'"
    )


def build_contacts(con: duckdb.DuckDBPyConnection) -> int:
    """Create the temp table `contacts` from the attached copies; returns its row count.

    People are matched on their email (trimmed, case-folded); people without one stay one
    row per vendor record. Records deleted upstream give no name or phone, but a deletion
    is named in `deleted_in`, and a Mailchimp archive still forbids marketing.
    """
    priority = "[" + _sql_list_ordered(SOURCE_PRIORITY) + "]"
    zero_decimal = _sql_list(ZERO_DECIMAL_CURRENCIES)
    query(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE person_records AS
        SELECT *,
            coalesce(email, vendor || ':' || dataset || ':' || record_id) AS person_key,
            list_position({priority}, vendor) AS rank
        FROM (
            SELECT vendor, dataset, record_id, norm_email(email_raw) AS email,
                nullif(trim(regexp_replace(name, '\\s+', ' ', 'g')), '') AS name,
                nullif(trim(phone), '') AS phone,
                deleted, changed_at, marketing_status, channel_url
            FROM ({_person_records(con)})
        )
        """,
    )
    query(
        con,
        f"""
        CREATE OR REPLACE TEMP TABLE contacts AS
        WITH live AS (SELECT * FROM person_records WHERE NOT deleted),
        people AS (
            SELECT person_key, any_value(email) AS email, any_value(channel_url) AS channel_url,
                string_agg(DISTINCT vendor, ', ' ORDER BY vendor) AS vendors
            FROM live GROUP BY person_key
        ),
        -- Every distinct value with the vendors that hold it; the best-ranked one is shown.
        name_values AS (
            SELECT person_key, name AS value, min(rank) AS rank,
                string_agg(DISTINCT vendor, ', ' ORDER BY vendor) AS sources
            FROM live WHERE name IS NOT NULL GROUP BY person_key, name
        ),
        phone_values AS (
            SELECT person_key, any_value(phone) AS value, min(rank) AS rank,
                string_agg(DISTINCT vendor, ', ' ORDER BY vendor) AS sources
            FROM live WHERE phone IS NOT NULL
            GROUP BY person_key, regexp_replace(phone, '[^0-9+]', '', 'g')
        ),
        names AS (
            SELECT person_key, arg_min(value, lpad(rank::VARCHAR, 3, '0') || value) AS name,
                arg_min(sources, lpad(rank::VARCHAR, 3, '0') || value) AS name_from
            FROM name_values GROUP BY person_key
        ),
        phones AS (
            SELECT person_key, arg_min(value, lpad(rank::VARCHAR, 3, '0') || value) AS phone,
                arg_min(sources, lpad(rank::VARCHAR, 3, '0') || value) AS phone_from
            FROM phone_values GROUP BY person_key
        ),
        conflicts AS (
            SELECT person_key, string_agg(what, '; ' ORDER BY what) AS conflicts FROM (
                SELECT v.person_key, 'name ' || v.value || ' (' || v.sources || ')' AS what
                FROM name_values v JOIN names n USING (person_key) WHERE v.value <> n.name
                UNION ALL
                SELECT v.person_key, 'phone ' || v.value || ' (' || v.sources || ')'
                FROM phone_values v JOIN phones p USING (person_key) WHERE v.value <> p.phone
            ) GROUP BY person_key
        ),
        deletions AS (
            SELECT person_key, string_agg(DISTINCT vendor, ', ' ORDER BY vendor) AS deleted_in
            FROM person_records WHERE deleted GROUP BY person_key
        ),
        -- Archived members are deleted records, yet they must still block marketing.
        consent AS (
            SELECT person_key,
                bool_or(marketing_status IN ({_sql_list(NO_MARKETING_STATUSES)}) OR deleted)
                    AS blocked,
                bool_or(marketing_status = '{MARKETING_OK_STATUS}' AND NOT deleted)
                    AS subscribed,
                string_agg(DISTINCT CASE WHEN deleted THEN 'archived' ELSE marketing_status END,
                    ', ' ORDER BY CASE WHEN deleted THEN 'archived' ELSE marketing_status END)
                    AS statuses
            FROM person_records WHERE vendor = 'mailchimp' GROUP BY person_key
        ),
        paid_by_currency AS (
            SELECT person_key, currency, sum(net) AS net, count(*) AS payments,
                sum(net) / CASE WHEN currency IN ({zero_decimal}) THEN 1 ELSE 100 END AS amount
            FROM ({_payments(con)}) WHERE person_key IS NOT NULL
            GROUP BY person_key, currency
        ),
        paid AS (
            SELECT person_key,
                string_agg(upper(currency) || ' ' || format(CASE WHEN currency IN
                    ({zero_decimal}) THEN '{{:,.0f}}' ELSE '{{:,.2f}}' END, amount::DOUBLE),
                    '; ' ORDER BY amount DESC, currency) AS lifetime_paid,
                max(amount)::DOUBLE AS lifetime_paid_sort, sum(payments) AS payments
            FROM paid_by_currency GROUP BY person_key
        ),
        tickets AS (SELECT * FROM ({_tickets(con)})),
        open_tickets AS (
            SELECT person_key, count(*) AS open_tickets FROM tickets
            WHERE status IN ({_sql_list(OPEN_TICKET_STATUSES)}) GROUP BY person_key
        ),
        activity AS (
            SELECT person_key, changed_at AS happened_at, vendor || ' ' || dataset AS what FROM live
            UNION ALL SELECT person_key, created, 'stripe payment' FROM ({_payments(con)})
            UNION ALL SELECT person_key, updated_at, 'zendesk ticket' FROM tickets
        ),
        last_activity AS (
            SELECT person_key, max(happened_at) AS last_activity,
                arg_max(what, happened_at) AS last_activity_was
            FROM activity WHERE happened_at IS NOT NULL GROUP BY person_key
        )
        SELECT
            p.person_key AS person_id,
            n.name,
            p.email,
            ph.phone,
            p.vendors,
            coalesce(c.subscribed AND NOT c.blocked, false) AS marketing_ok,
            CASE WHEN c.person_key IS NULL THEN 'not on a mailing list'
                WHEN c.subscribed AND NOT c.blocked THEN 'subscribed'
                ELSE c.statuses END AS marketing,
            pd.lifetime_paid,
            coalesce(pd.lifetime_paid_sort, 0) AS lifetime_paid_sort,
            coalesce(pd.payments, 0)::BIGINT AS payments,
            coalesce(o.open_tickets, 0)::BIGINT AS open_tickets,
            a.last_activity,
            a.last_activity_was,
            n.name_from,
            ph.phone_from,
            cf.conflicts,
            d.deleted_in,
            p.channel_url
        FROM people p
        LEFT JOIN names n USING (person_key)
        LEFT JOIN phones ph USING (person_key)
        LEFT JOIN conflicts cf USING (person_key)
        LEFT JOIN deletions d USING (person_key)
        LEFT JOIN consent c USING (person_key)
        LEFT JOIN paid pd USING (person_key)
        LEFT JOIN open_tickets o USING (person_key)
        LEFT JOIN last_activity a USING (person_key)
        -- People with an email first: they are the ones a business can write to.
        ORDER BY p.email IS NULL, n.name NULLS LAST, p.email, p.person_key
        """,
    )
    return query(con, "SELECT count(*) FROM contacts")[0][0]


def _sql_list_ordered(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)
