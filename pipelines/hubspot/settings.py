"""HubSpot CRM v3's contract as the connector relies on it."""

from __future__ import annotations

from pipelines.arrow import Column

LIST_LIMIT = 100  # the list endpoint's maximum `limit`
SEARCH_LIMIT = 200  # the search endpoint's maximum `limit`
# One search query serves at most this many results; asking for more is a 400. The
# connector starts a new query from the last modification time it saw before reaching it.
# https://developers.hubspot.com/docs/guides/api/crm/search#limitations
SEARCH_RESULT_CAP = 10_000
# The search endpoints allow this many requests a second per account (a 429 with policy
# SECONDLY past it, same page): the connector leaves this long between one search's
# answer and the next search, a twentieth more than the limit needs.
SEARCH_REQUESTS_PER_SECOND = 5
SEARCH_SPACING_SECONDS = 1.05 / SEARCH_REQUESTS_PER_SECOND
# How long a SECONDLY 429 takes to clear: the window is one second.
SEARCH_RETRY_AFTER_SECONDS = 1.0

# The property holding each object's last modification time (contacts name it differently).
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

# HubSpot returns only a few properties unless asked: these are the ones the copy keeps.
PROPERTIES: dict[str, list[str]] = {
    "contacts": [
        "email",
        "firstname",
        "lastname",
        "phone",
        "company",
        "jobtitle",
        "lifecyclestage",
        "hs_lead_status",
        "city",
        "state",
        "country",
        "hubspot_owner_id",
        "associatedcompanyid",
        "createdate",
        "lastmodifieddate",
    ],
    "companies": [
        "name",
        "domain",
        "website",
        "phone",
        "industry",
        "lifecyclestage",
        "numberofemployees",
        "annualrevenue",
        "city",
        "state",
        "country",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ],
    "deals": [
        "dealname",
        "amount",
        "deal_currency_code",
        "dealstage",
        "pipeline",
        "closedate",
        "hs_is_closed",
        "hubspot_owner_id",
        "createdate",
        "hs_lastmodifieddate",
    ],
}

# HubSpot sends every property as a string; these are the ones that are not text.
_KINDS = {
    "createdate": "timestamp",
    "lastmodifieddate": "timestamp",
    "hs_lastmodifieddate": "timestamp",
    "closedate": "timestamp",
    "amount": "float",
    "annualrevenue": "float",
    "numberofemployees": "int",
    "hs_is_closed": "bool",
}

_ENVELOPE = [
    Column("id", key=True),
    Column("created_at", "timestamp", path="createdAt"),
    Column("updated_at", "timestamp", path="updatedAt"),
    Column("archived", "bool"),
    Column("archived_at", "timestamp", path="archivedAt"),
]
_BOOKKEEPING = [Column("_changed_at", "timestamp"), Column("_deleted", "bool")]

COLUMNS: dict[str, list[Column]] = {
    dataset: [
        *_ENVELOPE,
        *(Column(name, _KINDS.get(name, "string"), path=f"properties.{name}") for name in names),
        *_BOOKKEEPING,
    ]
    for dataset, names in PROPERTIES.items()
}
