"""HubSpot's seeded CRM records: contacts, companies and deals built lazily from a hash."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from emulators.core import Dataset
from emulators.names import person
from emulators.settings import DAY

PORTAL_ID = 24_680_135
# Object ids are numeric strings; each type gets its own range so ids never collide.
ID_BASE = {"contacts": 1_000_051, "companies": 18_000_000_001, "deals": 14_000_000_001}
# The property that holds each type's last modification time (contacts differ from the rest).
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
# What a listing or search returns when no `properties` are asked for:
# https://developers.hubspot.com/docs/guides/api/crm/search#searchable-crm-objects-and-engagements
DEFAULT_PROPERTIES = {
    "contacts": [
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ],
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
}
# Properties HubSpot stores as dates or numbers: filters and sorts compare them as such.
DATE_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"}
NUMBER_PROPERTIES = {
    "amount",
    "annualrevenue",
    "numberofemployees",
    "hs_object_id",
    "associatedcompanyid",
}
SEARCHABLE_TEXT = {
    "contacts": ("email", "firstname", "lastname", "phone", "company"),
    "companies": ("name", "domain", "phone", "website"),
    "deals": ("dealname",),
}
LIFECYCLE = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
]
LEAD_STATUS = ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "CONNECTED", "UNQUALIFIED"]
DEAL_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]
OWNERS = ["52118233", "52118234", "60551870", "71002456"]
JOB_TITLES = ["Owner", "Office Manager", "Buyer", "Operations Lead", "Founder", "Accountant"]
COMPANY_WORDS = [
    "Harbor",
    "Maple",
    "Summit",
    "Copper",
    "Lantern",
    "Juniper",
    "Atlas",
    "Cedar",
    "Beacon",
    "Orchard",
    "Granite",
    "Willow",
]
COMPANY_KINDS = ["Bakery", "Logistics", "Studio", "Supply", "Dental", "Cycles", "Labs", "Foods"]
INDUSTRIES = [
    "RETAIL",
    "FOOD_BEVERAGES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "DESIGN",
    "MEDICAL_PRACTICE",
    "SPORTING_GOODS",
    "COMPUTER_SOFTWARE",
    "WHOLESALE",
]
PLACES = [
    ("Lyon", "", "France"),
    ("Austin", "TX", "United States"),
    ("Leeds", "", "United Kingdom"),
    ("Osaka", "", "Japan"),
    ("Portland", "OR", "United States"),
    ("Hamburg", "", "Germany"),
]
# Share of contacts who are also Stripe customers (same index, same name and email).
STRIPE_OVERLAP_PER_10 = 6

Builder = Callable[[int], dict[str, str | None]]


def iso(seconds: int) -> str:
    """HubSpot's timestamp format: UTC with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


class Records:
    """The three object types of one portal, each record computed from (seed, type, index)."""

    contacts: Dataset
    companies: Dataset
    deals: Dataset
    stripe_customers: Dataset
    datasets: dict[str, Dataset]
    builders: dict[str, Builder]
    known_properties: dict[str, frozenset[str]]

    def object_id(self, kind: str, index: int) -> str:
        return str(ID_BASE[kind] + index)

    def company_name(self, index: int) -> str:
        h = self.companies.hash(index, 1)
        return (
            f"{COMPANY_WORDS[h % len(COMPANY_WORDS)]} "
            f"{COMPANY_KINDS[(h >> 8) % len(COMPANY_KINDS)]}"
        )

    def company_domain(self, index: int) -> str:
        return self.company_name(index).lower().replace(" ", "") + f"{index}.example.com"

    def related_company(self, ds: Dataset, index: int) -> int | None:
        existing = self.companies.count_at(ds.created_at(index))
        if existing == 0:
            return None
        return ds.hash(index, 3) % existing

    def is_stripe_customer(self, index: int) -> bool:
        return self.contacts.hash(index, 5) % 10 < STRIPE_OVERLAP_PER_10

    def contact(self, index: int) -> dict[str, str | None]:
        ds = self.contacts
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        customer = self.is_stripe_customer(index)
        if customer:
            full_name, email, phone = person(self.stripe_customers, index)
        else:
            full_name, email, phone = person(ds, index)
            email = email.replace("@example.com", "@example.org")
        first, _, last = full_name.partition(" ")
        company = self.related_company(ds, index)
        city, state, country = PLACES[h % len(PLACES)]
        stage = LIFECYCLE[-1] if customer else LIFECYCLE[min(h % 4 + version, len(LIFECYCLE) - 2)]
        return {
            "associatedcompanyid": None
            if company is None
            else self.object_id("companies", company),
            "city": city,
            "company": None if company is None else self.company_name(company),
            "country": country,
            "createdate": iso(ds.created_at(index)),
            "email": email,
            "firstname": first,
            "hs_lead_status": LEAD_STATUS[(h >> 4) % len(LEAD_STATUS)] if h % 3 else None,
            "hs_object_id": self.object_id("contacts", index),
            "hubspot_owner_id": OWNERS[(h >> 6) % len(OWNERS)],
            "jobtitle": JOB_TITLES[(h >> 10) % len(JOB_TITLES)],
            "lastmodifieddate": iso(ds.updated_at(index)),
            "lastname": last,
            "lifecyclestage": stage,
            "phone": phone if h % 7 else None,
            "state": state or None,
        }

    def company(self, index: int) -> dict[str, str | None]:
        ds = self.companies
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        city, state, country = PLACES[h % len(PLACES)]
        employees = 2 + h % 240 + version * 3
        return {
            "annualrevenue": str(employees * 85_000),
            "city": city,
            "country": country,
            "createdate": iso(ds.created_at(index)),
            "domain": self.company_domain(index),
            "hs_lastmodifieddate": iso(ds.updated_at(index)),
            "hs_object_id": self.object_id("companies", index),
            "hubspot_owner_id": OWNERS[(h >> 6) % len(OWNERS)],
            "industry": INDUSTRIES[(h >> 8) % len(INDUSTRIES)],
            "lifecyclestage": LIFECYCLE[min(3 + (h % 3) + version, len(LIFECYCLE) - 1)],
            "name": self.company_name(index),
            "numberofemployees": str(employees),
            "phone": f"+1555{(h >> 16) % 10_000_000:07d}",
            "state": state or None,
            "website": "https://www." + self.company_domain(index),
        }

    def deal(self, index: int) -> dict[str, str | None]:
        ds = self.deals
        h = ds.hash(index, 4)
        version = ds.record_version(index)
        created = ds.created_at(index)
        stage_no = h % len(DEAL_STAGES)
        if stage_no < 5:  # an open deal moves along the pipeline with each change
            stage_no = min(stage_no + version, 5)
            if version and h % 4 == 0:
                stage_no = 6
        stage = DEAL_STAGES[stage_no]
        company = self.related_company(ds, index)
        label = self.company_name(company) if company is not None else "New business"
        return {
            "amount": f"{500 + h % 60_000}.{(h >> 20) % 100:02d}",
            "closedate": iso(created + (14 + h % 60) * DAY),
            "createdate": iso(created),
            "deal_currency_code": ["USD", "USD", "EUR", "GBP"][(h >> 12) % 4],
            "dealname": f"{label} - {['Renewal', 'New order', 'Upgrade'][(h >> 9) % 3]}",
            "dealstage": stage,
            "hs_is_closed": "true" if stage.startswith("closed") else "false",
            "hs_lastmodifieddate": iso(ds.updated_at(index)),
            "hs_object_id": self.object_id("deals", index),
            "hubspot_owner_id": OWNERS[(h >> 6) % len(OWNERS)],
            "pipeline": "default",
        }

    def render(self, kind: str, index: int, wanted: list[str] | None) -> dict[str, Any]:
        """The v3 object envelope with the requested (or default) properties, all as strings."""
        ds = self.datasets[kind]
        props = self.builders[kind](index)
        names = wanted or DEFAULT_PROPERTIES[kind]
        # HubSpot always returns the id and the two dates, whatever was asked for; a
        # property the portal does not have is left out, not refused.
        chosen = {name: props[name] for name in names if name in props}
        for name in ("createdate", MODIFIED_PROPERTY[kind], "hs_object_id"):
            chosen[name] = props[name]
        record: dict[str, Any] = {
            "id": self.object_id(kind, index),
            "properties": chosen,
            "createdAt": iso(ds.created_at(index)),
            "updatedAt": iso(ds.updated_at(index)),
            "archived": ds.is_deleted(index),
        }
        if ds.is_deleted(index):
            record["archivedAt"] = iso(ds.deleted[index])
        return record
