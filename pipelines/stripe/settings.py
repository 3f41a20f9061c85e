"""Stripe's contract as the connector relies on it."""

from __future__ import annotations

from pipelines.arrow import Column

PAGE_LIMIT = 100  # Stripe's maximum `limit` for list endpoints
# Stripe keeps events for 30 days; past this age a cursor can no longer be caught up
# from events, so the dataset is listed again in full (and merged, never replaced).
EVENT_HORIZON_SECONDS = 29 * 86_400
# The version the `stripe` package's models describe (objects have this shape since
# 2025-03-31.basil: a subscription's period sits on its items, an invoice has no `paid`).
API_VERSION = "2026-10-28.endive"

# Stripe's `object` value for each dataset.
OBJECT_NAMES = {
    "customers": "customer",
    "charges": "charge",
    "invoices": "invoice",
    "subscriptions": "subscription",
}
# The events that tell of a dataset's changes (https://docs.stripe.com/api/events/types).
# Subscriptions' are `customer.subscription.*`; `customer.*` matches those too (and
# customer.discount.*, customer.source.*...), so events are also kept by their object.
EVENT_TYPES = {
    "customers": "customer.*",
    "charges": "charge.*",
    "invoices": "invoice.*",
    "subscriptions": "customer.subscription.*",
}
# Events whose object is gone at Stripe. `customer.subscription.deleted` is not one: the
# subscription ended and stays listable, canceled.
DELETION_EVENTS = frozenset({"customer.deleted", "invoice.deleted"})
# Stripe's subscription list leaves canceled subscriptions out unless asked for all
# (https://docs.stripe.com/api/subscriptions/list): a backup wants them.
LIST_PARAMS: dict[str, dict[str, str]] = {"subscriptions": {"status": "all"}}

_BOOKKEEPING = [Column("_changed_at", "timestamp"), Column("_deleted", "bool")]

COLUMNS: dict[str, list[Column]] = {
    "customers": [
        Column("id", key=True),
        Column("email"),
        Column("name"),
        Column("phone"),
        Column("description"),
        Column("created", "timestamp"),
        Column("currency"),
        Column("balance", "int"),
        Column("delinquent", "bool"),
        Column("address_city", path="address.city"),
        Column("address_country", path="address.country"),
        Column("address_line1", path="address.line1"),
        Column("address_postal_code", path="address.postal_code"),
        Column("livemode", "bool"),
        Column("metadata", "json"),
        *_BOOKKEEPING,
    ],
    "charges": [
        Column("id", key=True),
        Column("amount", "int"),
        Column("amount_captured", "int"),
        Column("amount_refunded", "int"),
        Column("currency"),
        Column("status"),
        Column("paid", "bool"),
        Column("captured", "bool"),
        Column("refunded", "bool"),
        Column("disputed", "bool"),
        Column("created", "timestamp"),
        Column("customer"),
        Column("description"),
        Column("receipt_email"),
        Column("billing_email", path="billing_details.email"),
        Column("billing_name", path="billing_details.name"),
        Column("failure_code"),
        Column("failure_message"),
        Column("invoice"),
        Column("payment_intent"),
        Column("balance_transaction"),
        Column("livemode", "bool"),
        Column("metadata", "json"),
        *_BOOKKEEPING,
    ],
    "invoices": [
        Column("id", key=True),
        Column("number"),
        Column("customer"),
        Column("customer_email"),
        Column("customer_name"),
        Column("status"),
        Column("paid", "bool"),
        Column("amount_due", "int"),
        Column("amount_paid", "int"),
        Column("amount_remaining", "int"),
        Column("subtotal", "int"),
        Column("total", "int"),
        Column("currency"),
        Column("collection_method"),
        Column("billing_reason"),
        Column("attempt_count", "int"),
        Column("created", "timestamp"),
        Column("due_date", "timestamp"),
        Column("period_start", "timestamp"),
        Column("period_end", "timestamp"),
        Column("livemode", "bool"),
        *_BOOKKEEPING,
    ],
    "subscriptions": [
        Column("id", key=True),
        Column("customer"),
        Column("status"),
        Column("currency"),
        Column("collection_method"),
        Column("cancel_at_period_end", "bool"),
        Column("canceled_at", "timestamp"),
        Column("created", "timestamp"),
        Column("start_date", "timestamp"),
        Column("current_period_start", "timestamp"),
        Column("current_period_end", "timestamp"),
        Column("items", "json", path="items.data"),
        Column("livemode", "bool"),
        Column("metadata", "json"),
        *_BOOKKEEPING,
    ],
}
