"""Stripe's contract as the connector relies on it."""

from __future__ import annotations

from lifeboat.columns import DELETED_DESCRIPTION
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

_BOOKKEEPING = [
    Column(
        "_changed_at",
        "timestamp",
        description="When the record last changed at Stripe: its latest event's time, or its "
        "creation time when listed",
    ),
    Column("_deleted", "bool", description=DELETED_DESCRIPTION),
]

# Descriptions are Stripe's own (the API reference, and the `stripe` package's models),
# shortened to a line; tests/pipelines/test_column_descriptions.py checks them against it.
_LIVEMODE = "True for an object in live mode, false for one in test mode"
_CURRENCY = "Three-letter ISO currency code, in lowercase"


def _metadata(what: str) -> Column:
    return Column(
        "metadata",
        "json",
        description=f"Set of key-value pairs attached to the {what}, for additional "
        "information in a structured format",
    )


COLUMNS: dict[str, list[Column]] = {
    "customers": [
        Column("id", key=True, description="Unique identifier for the customer at Stripe"),
        Column("email", description="The customer's email address"),
        Column("name", description="The customer's full name or business name"),
        Column("phone", description="The customer's phone number"),
        Column(
            "description",
            description="Free text attached to the customer, often useful for displaying to users",
        ),
        Column("created", "timestamp", description="Time at which the customer was created"),
        Column(
            "currency",
            description="Three-letter ISO code of the currency the customer can be charged "
            "in for recurring billing",
        ),
        Column(
            "balance",
            "int",
            description="Current balance in the customer's default currency, in the smallest "
            "currency unit: negative is credit for the next invoice, positive is owed",
        ),
        Column(
            "delinquent",
            "bool",
            description="True after an automatic payment failure or a passed due date on one "
            "of the customer's invoices; paying it sets it back to false",
        ),
        Column(
            "address_city",
            path="address.city",
            description="City, district, suburb, town, or village of the customer's address",
        ),
        Column(
            "address_country",
            path="address.country",
            description="Two-letter country code (ISO 3166-1 alpha-2) of the customer's address",
        ),
        Column(
            "address_line1",
            path="address.line1",
            description="Address line 1, such as the street, PO Box, or company name",
        ),
        Column(
            "address_postal_code",
            path="address.postal_code",
            description="ZIP or postal code of the customer's address",
        ),
        Column("livemode", "bool", description=_LIVEMODE),
        _metadata("customer"),
        *_BOOKKEEPING,
    ],
    "charges": [
        Column("id", key=True, description="Unique identifier for the charge at Stripe"),
        Column(
            "amount",
            "int",
            description="Amount intended to be collected, in the smallest currency unit "
            "(e.g. 100 cents to charge $1.00)",
        ),
        Column(
            "amount_captured",
            "int",
            description="Amount captured, in cents (or local equivalent); less than the "
            "amount after a partial capture",
        ),
        Column(
            "amount_refunded",
            "int",
            description="Amount refunded, in cents (or local equivalent); less than the "
            "amount after a partial refund",
        ),
        Column("currency", description=_CURRENCY),
        Column("status", description="Status of the payment: succeeded, pending or failed"),
        Column(
            "paid",
            "bool",
            description="True if the charge succeeded, or was authorized for later capture",
        ),
        Column(
            "captured",
            "bool",
            description="Whether the charge has been captured (a charge created without "
            "capturing stays uncaptured until then)",
        ),
        Column(
            "refunded",
            "bool",
            description="Whether the charge has been fully refunded; false while only "
            "partially refunded",
        ),
        Column("disputed", "bool", description="Whether the charge has been disputed"),
        Column("created", "timestamp", description="Time at which the charge was created"),
        Column("customer", description="ID of the customer this charge is for, if one exists"),
        Column(
            "description",
            description="Free text attached to the charge, often useful for displaying to users",
        ),
        Column(
            "receipt_email",
            description="Email address the receipt for this charge was sent to",
        ),
        Column(
            "billing_email",
            path="billing_details.email",
            description="Email address in the billing details given with the payment",
        ),
        Column(
            "billing_name",
            path="billing_details.name",
            description="Full name in the billing details given with the payment",
        ),
        Column(
            "failure_code",
            description="Error code explaining the reason for a charge failure, if available",
        ),
        Column(
            "failure_message",
            description="Message to the user further explaining the reason for a charge "
            "failure, if available",
        ),
        Column(
            "invoice",
            description="ID of the invoice this charge paid; Stripe stopped sending it with "
            "API version 2025-03-31.basil, so newer charges leave it empty",
        ),
        Column(
            "payment_intent",
            description="ID of the PaymentIntent associated with this charge, if one exists",
        ),
        Column(
            "balance_transaction",
            description="ID of the balance transaction describing this charge's impact on "
            "your account balance (refunds and disputes aside)",
        ),
        Column("livemode", "bool", description=_LIVEMODE),
        _metadata("charge"),
        *_BOOKKEEPING,
    ],
    "invoices": [
        Column("id", key=True, description="Unique identifier for the invoice at Stripe"),
        Column(
            "number",
            description="Unique identifying number that appears on emails sent to the "
            "customer for this invoice",
        ),
        Column("customer", description="ID of the customer to bill"),
        Column(
            "customer_email",
            description="The customer's email, as on the invoice: no longer updated once the "
            "invoice is finalized",
        ),
        Column(
            "customer_name",
            description="The customer's name, as on the invoice: no longer updated once the "
            "invoice is finalized",
        ),
        Column(
            "status",
            description="Status of the invoice: draft, open, paid, uncollectible or void",
        ),
        Column(
            "paid",
            "bool",
            description="True when the invoice's status is paid; lifeboat fills it in, as "
            "Stripe stopped sending it with API version 2025-03-31.basil",
        ),
        Column(
            "amount_due",
            "int",
            description="Final amount due for this invoice, in the smallest currency unit; "
            "may be 0 when account credit applies",
        ),
        Column(
            "amount_paid",
            "int",
            description="The amount that was paid, in cents (or local equivalent)",
        ),
        Column(
            "amount_remaining",
            "int",
            description="The difference between amount_due and amount_paid, in cents (or "
            "local equivalent)",
        ),
        Column(
            "subtotal",
            "int",
            description="Total of all items on the invoice before any invoice level discount "
            "or exclusive tax",
        ),
        Column(
            "total",
            "int",
            description="Total after discounts and taxes, in the smallest currency unit",
        ),
        Column("currency", description=_CURRENCY),
        Column(
            "collection_method",
            description="charge_automatically (Stripe charges the customer's default source) "
            "or send_invoice (Stripe emails the invoice with payment instructions)",
        ),
        Column(
            "billing_reason",
            description="Reason why the invoice was created, e.g. manual, "
            "subscription_create or subscription_cycle",
        ),
        Column(
            "attempt_count",
            "int",
            description="Number of payment attempts made for this invoice, as the payment "
            "retry schedule counts them",
        ),
        Column("created", "timestamp", description="Time at which the invoice was created"),
        Column(
            "due_date",
            "timestamp",
            description="Date on which payment for this invoice is due; empty for invoices "
            "charged automatically",
        ),
        Column(
            "period_start",
            "timestamp",
            description="Earliest time at which invoice items can be associated with this invoice",
        ),
        Column(
            "period_end",
            "timestamp",
            description="Latest time at which invoice items can be associated with this invoice",
        ),
        Column("livemode", "bool", description=_LIVEMODE),
        *_BOOKKEEPING,
    ],
    "subscriptions": [
        Column("id", key=True, description="Unique identifier for the subscription at Stripe"),
        Column("customer", description="ID of the customer who owns the subscription"),
        Column(
            "status",
            description="Status of the subscription: incomplete, incomplete_expired, trialing, "
            "active, past_due, canceled, unpaid or paused",
        ),
        Column("currency", description=_CURRENCY),
        Column(
            "collection_method",
            description="charge_automatically (Stripe charges the default source at the end "
            "of each cycle) or send_invoice (Stripe emails your customer an invoice)",
        ),
        Column(
            "cancel_at_period_end",
            "bool",
            description="Whether the subscription will (if active) or did (if canceled) "
            "cancel at the end of the current billing period",
        ),
        Column(
            "canceled_at",
            "timestamp",
            description="If the subscription has been canceled, the date of that cancellation",
        ),
        Column("created", "timestamp", description="Time at which the subscription was created"),
        Column(
            "start_date",
            "timestamp",
            description="Date when the subscription was first created; it might differ from "
            "created due to backdating",
        ),
        # Stripe keeps billing periods on a subscription's items since 2025-03-31.basil;
        # the connector reads them back onto the subscription (pipelines/stripe).
        Column(
            "current_period_start",
            "timestamp",
            description="The start time of the current billing period: the latest start "
            "among the subscription's items",
        ),
        Column(
            "current_period_end",
            "timestamp",
            description="The end time of the current billing period: the earliest end among "
            "the subscription's items",
        ),
        Column(
            "items",
            "json",
            path="items.data",
            description="List of subscription items, each with an attached price",
        ),
        Column("livemode", "bool", description=_LIVEMODE),
        _metadata("subscription"),
        *_BOOKKEEPING,
    ],
}
