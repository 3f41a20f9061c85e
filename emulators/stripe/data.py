"""Stripe's seeded records: customers, charges, invoices, subscriptions and their events.

Objects have the shape Stripe serves at its current API version (`LATEST_VERSION`, the
version the `stripe` package pins): since 2025-03-31.basil a subscription's billing period
lives on its items and an invoice has no `paid` flag (https://docs.stripe.com/changelog/basil).
"""

from __future__ import annotations

from typing import Any

from emulators.core import MASK64, Dataset, VendorApp
from emulators.names import person
from emulators.settings import DAY

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
INDEX_WIDTH = 8
PREFIXES = {"customers": "cus", "charges": "ch", "invoices": "in", "subscriptions": "sub"}
OBJECT_NAMES = {
    "customers": "customer",
    "charges": "charge",
    "invoices": "invoice",
    "subscriptions": "subscription",
}
CURRENCIES = ["usd", "usd", "usd", "eur", "gbp"]
CREATED, UPDATED, DELETED = 0, 1, 2

# Stripe's published API versions (https://docs.stripe.com/changelog): requests may pin any
# of them with `Stripe-Version`; anything else is refused.
LATEST_VERSION = "2026-10-28.endive"
_RELEASES = """
2017-05-25 2017-06-05 2017-08-15 2017-12-14 2018-01-23 2018-02-05 2018-02-06 2018-02-28
2018-05-21 2018-07-27 2018-08-23 2018-09-06 2018-09-24 2018-10-31 2018-11-08 2019-02-11
2019-02-19 2019-03-14 2019-05-16 2019-08-14 2019-09-09 2019-10-08 2019-10-17 2019-11-05
2019-12-03 2020-03-02 2020-08-27 2022-08-01 2022-11-15 2023-08-16 2023-10-16 2024-04-10
2024-06-20 2024-09-30.acacia 2024-10-28.acacia 2024-11-20.acacia 2024-12-18.acacia
2025-01-27.acacia 2025-02-24.acacia 2025-03-31.basil 2025-04-30.basil 2025-05-28.basil
2025-06-30.basil 2025-07-30.basil 2025-08-27.basil 2025-09-30.clover 2025-10-29.clover
2025-11-17.clover 2025-12-15.clover 2026-01-28.clover 2026-02-25.clover
"""
API_VERSIONS = frozenset(_RELEASES.split()) | {LATEST_VERSION}
# The version the emulated account was created on: requests without `Stripe-Version` and
# every event's `api_version` use it (https://docs.stripe.com/api/versioning).
ACCOUNT_VERSION = LATEST_VERSION

_PAIRS = [a + b for a in B62 for b in B62]


def b62(value: int, width: int) -> str:
    """`value` in base 62, zero-padded to `width` digits (decodable with `un_b62`)."""
    pairs = []
    for _ in range((width + 1) // 2):
        value, digit = divmod(value, 3844)
        pairs.append(_PAIRS[digit])
    return "".join(reversed(pairs))[-width:]


def token(seed: int, length: int) -> str:
    """A random-looking alphanumeric string from a 64-bit seed (not decodable; fast)."""
    return (f"{seed & MASK64:016x}" * 2)[:length]


def un_b62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + B62.index(char)
    return value


def subscription_status(ds: Dataset, index: int) -> str:
    """A subscription's status, cheap enough to filter listings by."""
    version = ds.record_version(index)
    h = ds.hash(index, 4)
    if version:
        # Half the subscriptions that change are canceled, for good (Stripe's is terminal);
        # the others fall behind on payment and catch up again.
        return "canceled" if h % 2 == 0 else ["active", "past_due"][version % 2]
    return ["active", "active", "active", "trialing", "past_due"][h % 5]


class StripeData(VendorApp):
    """The account's records, built on demand from the seed (never held in memory)."""

    name = "stripe"

    def setup(self) -> None:
        super().setup()
        self.customers = self.dataset(
            "customers", 200, created_per_day=5, updated_per_day=0.01, deleted_per_day=0.001
        )
        self.charges = self.dataset("charges", 2000, created_per_day=60, updated_per_day=0.002)
        self.invoices = self.dataset("invoices", 600, created_per_day=20, updated_per_day=0.01)
        self.subscriptions = self.dataset(
            "subscriptions", 150, created_per_day=2, updated_per_day=0.005
        )
        self.builders = {
            "customers": self.customer,
            "charges": self.charge,
            "invoices": self.invoice,
            "subscriptions": self.subscription,
        }
        self._customer_counts: dict[int, int] = {}
        self._contacts: dict[int, tuple[str, str]] = {}

    def advance(self, old: int, new: int) -> None:
        super().advance(old, new)
        self._contacts.clear()

    # --- ids and relations ----------------------------------------------------------------

    def object_id(self, dataset: str, index: int, h: int | None = None) -> str:
        """A Stripe-like id whose last digits encode the index (`h` saves recomputing it)."""
        if h is None:
            h = self.datasets[dataset].hash(index, 4)
        return f"{PREFIXES[dataset]}_{token(h, 14)}{b62(index, INDEX_WIDTH)}"

    def index_of(self, dataset: str, value: str) -> int | None:
        """The index an id stands for, or None when no such object was ever created."""
        prefix = PREFIXES[dataset] + "_"
        if not value.startswith(prefix) or len(value) != len(prefix) + 14 + INDEX_WIDTH:
            return None
        try:
            index = un_b62(value[-INDEX_WIDTH:])
        except ValueError:
            return None
        if index >= self.datasets[dataset].count_at(self.clock.now()):
            return None
        if value != self.object_id(dataset, index):
            return None
        return index

    def related_customer(self, ds: Dataset, index: int) -> int:
        """A customer that already existed on the day the record was created."""
        existing = self._customers_by_day(ds.created_at(index) // DAY)
        return ds.hash(index, 3) % existing

    def _customers_by_day(self, day: int) -> int:
        # Records by the million look this up; customers change only at day granularity here.
        known = self._customer_counts.get(day)
        if known is None:
            known = self._customer_counts[day] = max(self.customers.count_at(day * DAY), 1)
        return known

    def customer_contact(self, index: int) -> tuple[str, str]:
        """(id, email) of a customer, cached: charges and invoices ask for them constantly."""
        known = self._contacts.get(index)
        if known is None:
            _, email, _ = person(self.customers, index)
            version = self.customers.record_version(index)
            if version:
                email = email.replace("@example.com", f"+v{version}@example.com")
            known = self._contacts[index] = (self.object_id("customers", index), email)
        return known

    # --- objects --------------------------------------------------------------------------

    def customer(self, index: int) -> dict[str, Any]:
        ds = self.customers
        h = ds.hash(index, 4)
        name, email, phone = person(ds, index)
        version = ds.record_version(index)
        if version:
            email = email.replace("@example.com", f"+v{version}@example.com")
        return {
            "id": self.object_id("customers", index),
            "object": "customer",
            "address": {
                "city": ["Lyon", "Austin", "Leeds", "Osaka"][h % 4],
                "country": ["FR", "US", "GB", "JP"][h % 4],
                "line1": f"{h % 900 + 1} Main St",
                "line2": None,
                "postal_code": f"{h % 90000 + 10000}",
                "state": None,
            },
            "balance": 0,
            "created": ds.created_at(index),
            "currency": CURRENCIES[h % len(CURRENCIES)],
            "default_source": None,
            "delinquent": bool(version % 3 == 2),
            "description": None,
            "email": email,
            "invoice_prefix": token(h, 8).upper(),
            "livemode": False,
            "metadata": {"segment": ["retail", "wholesale", "online"][h % 3]},
            "name": name,
            "phone": phone if h % 5 else None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }

    def charge(self, index: int) -> dict[str, Any]:
        ds = self.charges
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        amount = 500 + h % 50_000
        failed = h % 29 == 0
        refunded = amount if version and h % 2 else (amount // 2 if version else 0)
        customer_id, email = self.customer_contact(self.related_customer(ds, index))
        tail = token(h >> 7, 24)
        order = str(100000 + index)
        return {
            "id": self.object_id("charges", index, h),
            "object": "charge",
            "amount": amount,
            "amount_captured": 0 if failed else amount,
            "amount_refunded": refunded,
            "balance_transaction": None if failed else f"txn_{tail}",
            "billing_details": {
                "email": email,
                "name": None,
                "phone": None,
                "address": {"postal_code": str(h % 90000 + 10000)},
            },
            "captured": not failed,
            "created": ds.created_at(index),
            "currency": CURRENCIES[h % 5],
            "customer": customer_id,
            "description": "Order #" + order,
            "disputed": version > 1,
            "failure_code": "card_declined" if failed else None,
            "failure_message": "Your card was declined." if failed else None,
            "livemode": False,
            "metadata": {"order": order},
            "paid": not failed,
            "payment_intent": f"pi_{tail[::-1]}",
            "payment_method": f"pm_{tail[3:]}{tail[:3]}",
            "receipt_email": email,
            "refunded": refunded == amount,
            "status": "failed" if failed else "succeeded",
        }

    def invoice(self, index: int) -> dict[str, Any]:
        ds = self.invoices
        h = ds.hash(index, 4)
        created = ds.created_at(index)
        version = ds.record_version(index)
        customer = self.related_customer(ds, index)
        name, email, _ = person(self.customers, customer)
        total = 1000 + h % 200_000
        status = ["open", "paid", "paid", "paid", "uncollectible"][h % 5]
        if version:
            status = "paid" if status == "open" else ("void" if version > 1 else status)
        paid = status == "paid"
        invoice_id = self.object_id("invoices", index)
        changed = ds.updated_at(index)
        return {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid or status == "void" else total,
            "amount_shipping": 0,
            "attempt_count": 1 + (h % 3),
            "attempted": True,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_reason": "subscription_cycle" if h % 2 else "manual",
            "collection_method": "charge_automatically" if h % 3 else "send_invoice",
            "created": created,
            "currency": CURRENCIES[h % len(CURRENCIES)],
            "customer": self.object_id("customers", customer),
            "customer_email": email,
            "customer_name": name,
            "default_tax_rates": [],
            "discounts": [],
            "due_date": created + 30 * DAY if h % 3 == 0 else None,
            "hosted_invoice_url": None,
            "issuer": {"type": "self"},
            "lines": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "number": f"{token(h, 6).upper()}-{index + 1:04d}",
            "parent": None,
            "payment_settings": {"default_mandate": None, "payment_method_types": None},
            "period_end": created,
            "period_start": created - 30 * DAY,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "starting_balance": 0,
            "status": status,
            "status_transitions": {
                "finalized_at": created,
                "marked_uncollectible_at": created if status == "uncollectible" else None,
                "paid_at": (changed if version else created) if paid else None,
                "voided_at": changed if status == "void" else None,
            },
            "subtotal": total,
            "total": total,
        }

    def subscription(self, index: int) -> dict[str, Any]:
        ds = self.subscriptions
        h = ds.hash(index, 4)
        created = ds.created_at(index)
        period = 30 * DAY
        start = created + ((self.clock.now() - created) // period) * period
        status = subscription_status(ds, index)
        canceled_at = ds.updated_at(index) if status == "canceled" else None
        sub_id = self.object_id("subscriptions", index)
        currency = CURRENCIES[h % len(CURRENCIES)]
        return {
            "id": sub_id,
            "object": "subscription",
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_cycle_anchor": created,
            "billing_mode": {"type": "classic"},
            "billing_schedules": [],
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": canceled_at,
            "collection_method": "charge_automatically",
            "created": created,
            "currency": currency,
            "customer": self.object_id("customers", self.related_customer(ds, index)),
            "discounts": [],
            "ended_at": canceled_at,
            "invoice_settings": {"issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub_id}",
                "data": [self._subscription_item(h, sub_id, created, start, currency)],
            },
            "livemode": False,
            "metadata": {},
            "start_date": created,
            "status": status,
        }

    def _subscription_item(
        self, h: int, sub_id: str, created: int, start: int, currency: str
    ) -> dict[str, Any]:
        tier = h % 3
        amount = [900, 2900, 9900][tier]
        price_id = f"price_{token(mix_tier(tier), 14)}"
        product = f"prod_{token(mix_tier(tier) >> 5, 14)}"
        origin = self.clock.start - 400 * DAY
        return {
            "id": f"si_{token(h, 14)}",
            "object": "subscription_item",
            "created": created,
            "current_period_end": start + 30 * DAY,
            "current_period_start": start,
            "discounts": [],
            "metadata": {},
            "plan": {
                "id": price_id,
                "object": "plan",
                "active": True,
                "amount": amount,
                "billing_scheme": "per_unit",
                "created": origin,
                "currency": currency,
                "interval": "month",
                "interval_count": 1,
                "livemode": False,
                "product": product,
                "usage_type": "licensed",
            },
            "price": {
                "id": price_id,
                "object": "price",
                "active": True,
                "billing_scheme": "per_unit",
                "created": origin,
                "currency": currency,
                "livemode": False,
                "metadata": {},
                "product": product,
                "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
                "type": "recurring",
                "unit_amount": amount,
                "unit_amount_decimal": str(amount),
            },
            "quantity": 1 + h % 4,
            "subscription": sub_id,
        }

    # --- events ---------------------------------------------------------------------------

    def event_type(self, dataset: str, kind: int, obj: dict[str, Any]) -> str:
        """Stripe's event type for a change (https://docs.stripe.com/api/events/types)."""
        if dataset == "charges":
            if kind == CREATED:
                return "charge.failed" if obj["status"] == "failed" else "charge.succeeded"
            return "charge.refunded" if obj["amount_refunded"] else "charge.updated"
        if dataset == "invoices":
            if kind == CREATED:
                return "invoice.created"
            return {"paid": "invoice.paid", "void": "invoice.voided"}.get(
                obj["status"], "invoice.updated"
            )
        if dataset == "subscriptions":
            if kind == CREATED:
                return "customer.subscription.created"
            # Stripe sends `customer.subscription.deleted` when a subscription ends; the
            # subscription itself stays, canceled (https://docs.stripe.com/billing/subscriptions/cancel).
            if obj["status"] == "canceled":
                return "customer.subscription.deleted"
            return "customer.subscription.updated"
        return f"customer.{('created', 'updated', 'deleted')[kind]}"


def mix_tier(tier: int) -> int:
    """A stable 64-bit value per price tier, so every subscription of a tier shares a price."""
    return (tier + 1) * 0x9E3779B97F4A7C15 & MASK64
