"""Harvest's seeded records: clients, their contacts and projects, invoices, and the user.

Each record is computed from its dataset's seeded hash, its creation time and how many times
it has been updated, so listing any number of them holds none in memory. Fields and types
follow Harvest's reference pages:
https://help.getharvest.com/api-v2/clients-api/clients/clients/#the-client-object
https://help.getharvest.com/api-v2/clients-api/clients/contacts/#the-contact-object
https://help.getharvest.com/api-v2/projects-api/projects/projects/#the-project-object
https://help.getharvest.com/api-v2/invoices-api/invoices/invoices/#the-invoice-object
https://help.getharvest.com/api-v2/users-api/users/users/#the-user-object
"""

from __future__ import annotations

import time
from typing import Any

from emulators.core import Dataset
from emulators.harvest.settings import (
    CLIENT_ID_BASE,
    CONTACT_ID_BASE,
    INVOICE_ID_BASE,
    LINE_ITEM_ID_BASE,
    ME_ID,
    PROJECT_ID_BASE,
)
from emulators.names import LAST_NAMES, person
from emulators.settings import DAY

ID_BASES = {
    "clients": CLIENT_ID_BASE,
    "contacts": CONTACT_ID_BASE,
    "projects": PROJECT_ID_BASE,
    "invoices": INVOICE_ID_BASE,
}
COMPANY_SUFFIXES = ("Industries", "Studio", "Partners", "Labs", "Consulting", "Bakery", "& Sons")
CURRENCIES = ("USD", "USD", "EUR", "GBP", "CAD", "AUD")
STREETS = ("Main St.", "Oak Ave.", "Harbour Rd.", "Mill Lane", "Station St.")
TITLES = ("", "Owner", "CFO", "Office Manager", "Accounts Payable", "Project Lead")
PROJECT_KINDS = (
    "Website Redesign",
    "Brand Refresh",
    "Bookkeeping",
    "Mobile App",
    "Quarterly Audit",
    "Online Store",
    "Retainer",
)
# bill_by and budget_by take these values in Harvest's examples and create parameters.
BILL_BY = ("Project", "Tasks", "People", "none")
BUDGET_BY = ("project", "project_cost", "task", "person", "none")
PAYMENT_TERMS = (("upon receipt", 0), ("net 15", 15), ("net 30", 30), ("net 45", 45))
PAYMENT_OPTIONS = ((), ("credit_card",), ("ach",), ("credit_card", "paypal"))
TASKS = ("Design", "Development", "Project Management", "Consulting", "Copywriting")
# An invoice moves draft -> open -> paid; one in ten is closed (written off) instead of paid.
INVOICE_STEPS = ("draft", "open", "paid")


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def money(value: float) -> float:
    return round(value + 1e-9, 2)


class Records:
    """The record builders of the Harvest app (a mixin: the app owns the datasets)."""

    clients: Dataset
    contacts: Dataset
    projects: Dataset
    invoices: Dataset
    clock: Any

    # --- ids ------------------------------------------------------------------------------

    def record_id(self, resource: str, index: int) -> int:
        return ID_BASES[resource] + index

    def record_index(self, resource: str, record_id: int) -> int:
        return record_id - ID_BASES[resource]

    def owner_index(self, owner: Dataset, ds: Dataset, index: int) -> int:
        """A record's parent (a client, or an invoice's project) among those existing then."""
        existing = max(owner.count_at(ds.created_at(index)), 1)
        return ds.hash(index, 2) % existing

    # --- clients --------------------------------------------------------------------------

    def client_name(self, index: int) -> str:
        last = LAST_NAMES[index % len(LAST_NAMES)]
        suffix = COMPANY_SUFFIXES[(index // len(LAST_NAMES)) % len(COMPANY_SUFFIXES)]
        round_ = index // (len(LAST_NAMES) * len(COMPANY_SUFFIXES))
        return f"{last} {suffix}" + (f" {round_ + 1}" if round_ else "")

    def client_currency(self, index: int) -> str:
        return CURRENCIES[self.clients.hash(index, 3) % len(CURRENCIES)]

    def client(self, index: int) -> dict[str, Any]:
        ds = self.clients
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        archived = h % 12 == 0 or (version > 0 and (h + version) % 4 == 0)
        street = STREETS[(h >> 8) % len(STREETS)]
        return {
            "id": self.record_id("clients", index),
            "name": self.client_name(index),
            "is_active": not archived,
            "address": f"{100 + (h >> 12) % 900 + version} {street}\r\nAnytown, CT 06467",
            "statement_key": f"{ds.hash(index, 5):016x}{ds.hash(index, 6):016x}",
            "currency": self.client_currency(index),
            "created_at": iso(ds.created_at(index)),
            "updated_at": iso(ds.updated_at(index)),
        }

    def client_ref(self, index: int) -> dict[str, Any]:
        return {"id": self.record_id("clients", index), "name": self.client_name(index)}

    # --- contacts -------------------------------------------------------------------------

    def contact_client(self, index: int) -> int:
        return self.owner_index(self.clients, self.contacts, index)

    def contact(self, index: int) -> dict[str, Any]:
        ds = self.contacts
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        name, email, phone = person(ds, index)
        first, _, last = name.partition(" ")
        mobile = f"+1555{(h >> 20) % 10_000_000:07d}" if h % 3 else ""
        return {
            "id": self.record_id("contacts", index),
            "title": TITLES[(h + version) % len(TITLES)],
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone_office": phone,
            "phone_mobile": mobile,
            "fax": "" if h % 9 else phone,
            "created_at": iso(ds.created_at(index)),
            "updated_at": iso(ds.updated_at(index)),
            "client": self.client_ref(self.contact_client(index)),
        }

    # --- projects -------------------------------------------------------------------------

    def project_client(self, index: int) -> int:
        return self.owner_index(self.clients, self.projects, index)

    def project_name(self, index: int) -> str:
        kind = PROJECT_KINDS[self.projects.hash(index, 3) % len(PROJECT_KINDS)]
        return f"{kind} {index + 1}"

    def project_code(self, index: int) -> str:
        return f"P{index + 1:04d}"

    def hourly_rate(self, index: int) -> float:
        return float(60 + 10 * ((self.projects.hash(index, 3) >> 8) % 11))

    def project(self, index: int) -> dict[str, Any]:
        ds = self.projects
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        created = ds.created_at(index)
        client = self.project_client(index)
        fixed_fee = h % 5 == 0
        budget_by = BUDGET_BY[(h >> 4) % len(BUDGET_BY)]
        budget = float(20 + (h >> 8) % 400) if budget_by in ("project", "task", "person") else None
        cost_budget = float(1000 * (1 + (h >> 8) % 50)) if budget_by == "project_cost" else None
        ends = created + (30 + (h >> 16) % 300) * DAY if h % 3 == 0 else None
        return {
            "id": self.record_id("projects", index),
            "name": self.project_name(index),
            "code": self.project_code(index),
            "is_active": not (h % 7 == 0 or (version > 0 and (h + version) % 3 == 0)),
            "bill_by": "none" if fixed_fee else BILL_BY[(h >> 2) % 3],
            "budget": budget,
            "budget_by": budget_by,
            "budget_is_monthly": budget is not None and h % 4 == 0,
            "notify_when_over_budget": budget is not None or cost_budget is not None,
            "over_budget_notification_percentage": 80.0,
            "over_budget_notification_date": None,
            "show_budget_to_all": h % 2 == 0,
            "created_at": iso(created),
            "updated_at": iso(ds.updated_at(index)),
            "starts_on": day(created),
            "ends_on": day(ends) if ends is not None else None,
            "is_billable": h % 10 != 0,
            "is_fixed_fee": fixed_fee,
            "notes": f"Revision {version}" if version else "",
            "client": {**self.client_ref(client), "currency": self.client_currency(client)},
            "cost_budget": cost_budget,
            "cost_budget_include_expenses": cost_budget is not None and h % 2 == 1,
            "hourly_rate": None if fixed_fee else self.hourly_rate(index),
            "fee": float(500 * (2 + (h >> 24) % 40)) if fixed_fee else None,
        }

    # --- invoices -------------------------------------------------------------------------

    def invoice_project(self, index: int) -> int:
        return self.owner_index(self.projects, self.invoices, index)

    def invoice_client(self, index: int) -> int:
        return self.project_client(self.invoice_project(index))

    def invoice_state(self, index: int, h: int) -> tuple[str, bool]:
        """(state, whether the latest update made it so). States change only by updates."""
        ds = self.invoices
        age_days = max(self.clock.start - ds.created_at(index), 0) // DAY
        first = 2 if age_days > 45 else (1 if age_days > 10 else h % 2)
        version = ds.record_version(index)
        step = min(len(INVOICE_STEPS) - 1, first + version)
        reached_now = version > 0 and first + version - 1 < step
        state = INVOICE_STEPS[step]
        if state == "paid" and h % 10 == 0:
            state = "closed"
        return state, reached_now

    def line_items(self, index: int, project: int) -> list[dict[str, Any]]:
        h = self.invoices.hash(index, 5)
        rate = self.hourly_rate(project)
        items = []
        for n in range(1 + h % 2):
            quantity = 0.5 * (1 + (h >> (8 + 8 * n)) % 40)
            items.append(
                {
                    "id": LINE_ITEM_ID_BASE + index * 2 + n,
                    "kind": "Service",
                    "description": TASKS[(h >> (4 + n)) % len(TASKS)],
                    "quantity": quantity,
                    "unit_price": rate,
                    "amount": money(quantity * rate),
                    "taxed": h % 3 != 0,
                    "taxed2": False,
                    "project": {
                        "id": self.record_id("projects", project),
                        "name": self.project_name(project),
                        "code": self.project_code(project),
                    },
                }
            )
        return items

    def invoice(self, index: int) -> dict[str, Any]:
        ds = self.invoices
        h = ds.hash(index, 4)
        created, updated = ds.created_at(index), ds.updated_at(index)
        project = self.invoice_project(index)
        client = self.project_client(project)
        items = self.line_items(index, project)
        subtotal = sum(item["amount"] for item in items)
        taxed = sum(item["amount"] for item in items if item["taxed"])
        discount = float(5 * (1 + (h >> 8) % 3)) if h % 6 == 0 else None
        discount_amount = money(subtotal * (discount or 0) / 100)
        tax = float((5, 8, 10, 20)[(h >> 12) % 4]) if h % 3 else None
        tax_amount = money(taxed * (1 - (discount or 0) / 100) * tax / 100) if tax else None
        amount = money(subtotal - discount_amount + (tax_amount or 0))
        state, reached_now = self.invoice_state(index, h)
        moved = updated if reached_now else created
        term, days = PAYMENT_TERMS[(h >> 16) % len(PAYMENT_TERMS)]
        return {
            "id": self.record_id("invoices", index),
            "client_key": f"{ds.hash(index, 6):016x}{ds.hash(index, 7):016x}{h & 0xFFFFFFFF:08x}",
            "number": str(1000 + index),
            "purchase_order": str(4000 + (h >> 20) % 5000) if h % 4 == 0 else "",
            "amount": amount,
            "due_amount": 0.0 if state == "paid" else amount,
            "tax": tax,
            "tax_amount": tax_amount,
            "tax2": None,
            "tax2_amount": 0.0,
            "discount": discount,
            "discount_amount": discount_amount,
            "subject": self.project_name(project),
            "notes": "",
            "state": state,
            "period_start": day(created - 30 * DAY) if h % 2 else None,
            "period_end": day(created - DAY) if h % 2 else None,
            # Issued the day it was created: the list's issue-date order is its id order.
            "issue_date": day(created),
            "due_date": day(created + days * DAY),
            "payment_term": term,
            "sent_at": iso(moved if state == "open" else created) if state != "draft" else None,
            "paid_at": iso(moved) if state == "paid" else None,
            "paid_date": day(moved) if state == "paid" else None,
            "closed_at": iso(moved) if state == "closed" else None,
            "recurring_invoice_id": None,
            "created_at": iso(created),
            "updated_at": iso(updated),
            "currency": self.client_currency(client),
            "payment_options": list(PAYMENT_OPTIONS[(h >> 24) % len(PAYMENT_OPTIONS)]),
            "client": self.client_ref(client),
            "estimate": None,
            "retainer": None,
            "creator": {"id": ME_ID, "name": "Bob Powell"},
            "line_items": items,
        }

    # --- the authenticated user -----------------------------------------------------------

    def me(self) -> dict[str, Any]:
        created = iso(self.clock.start - 400 * DAY)
        return {
            "id": ME_ID,
            "first_name": "Bob",
            "last_name": "Powell",
            "email": "bob.powell@example.com",
            "telephone": "",
            "timezone": "Eastern Time (US & Canada)",
            "has_access_to_all_future_projects": True,
            "is_contractor": False,
            "is_active": True,
            "weekly_capacity": 126000,
            "default_hourly_rate": 100.0,
            "cost_rate": 60.0,
            "roles": ["Founder"],
            "access_roles": ["administrator"],
            "avatar_url": "https://cache.harvestapp.com/assets/profile_images/allen_bradley_clock_tower.png",
            "created_at": created,
            "updated_at": created,
        }
