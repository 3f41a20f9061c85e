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

# HubSpot returns only a few properties unless asked: these are the ones the copy keeps, each
# with what HubSpot's own property definition says of it (GET /crm/v3/properties/{object}
# returns them; https://knowledge.hubspot.com/properties/hubspots-default-contact-properties),
# shortened to a line.
PROPERTY_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "contacts": {
        "email": "A contact's email address",
        "firstname": "A contact's first name",
        "lastname": "A contact's last name",
        "phone": "A contact's primary phone number",
        "company": "Name of the contact's company, set independently of the company record "
        "it is associated with",
        "jobtitle": "A contact's job title",
        "lifecyclestage": "The qualification of the contact to sales readiness, e.g. lead or "
        "customer",
        "hs_lead_status": "The contact's sales, prospecting or outreach status",
        "city": "A contact's city of residence",
        "state": "The contact's state or region of residence",
        "country": "The contact's country/region of residence",
        "hubspot_owner_id": "The owner of the contact: the HubSpot user it is assigned to",
        "associatedcompanyid": "HubSpot ID of the contact's primary associated company",
        "createdate": "The date that the contact entered HubSpot",
        "lastmodifieddate": "The date any property on this contact was modified",
    },
    "companies": {
        "name": "The name of the company or organization",
        "domain": "The domain name of the company or organization",
        "website": "The main website of the company or organization",
        "phone": "Company primary phone number",
        "industry": "The type of business the company performs",
        "lifecyclestage": "The qualification of the company to sales readiness throughout the "
        "buying journey",
        "numberofemployees": "The total number of employees who work for the company or "
        "organization",
        "annualrevenue": "The actual or estimated annual revenue of the company",
        "city": "City where the company is located",
        "state": "State or region in which the company or organization is located",
        "country": "Country in which the company or organization is located",
        "hubspot_owner_id": "The owner of the company: the HubSpot user it is assigned to",
        "createdate": "The date the company or organization was added to HubSpot",
        "hs_lastmodifieddate": "Most recent time any property of this company was updated, "
        "HubSpot's internal ones included",
    },
    "deals": {
        "dealname": "The name given to this deal",
        "amount": "The total amount of the deal",
        "deal_currency_code": "Currency code for the deal",
        "dealstage": "The stage of the deal, which tracks the progress of the deal",
        "pipeline": "The pipeline the deal is in, which determines the stages it can take",
        "closedate": "Date the deal was closed, or is expected to close while it is open",
        "hs_is_closed": "True if the deal was won or lost",
        "hubspot_owner_id": "User the deal is assigned to",
        "createdate": "Date the deal was created",
        "hs_lastmodifieddate": "Most recent time any property of this deal was updated, "
        "HubSpot's internal ones included",
    },
}
PROPERTIES: dict[str, list[str]] = {
    dataset: list(described) for dataset, described in PROPERTY_DESCRIPTIONS.items()
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

# Every CRM object carries these beside its properties (the CRM v3 object's fields).
_ENVELOPE = [
    Column("id", key=True, description="The unique ID HubSpot gives the record (hs_object_id)"),
    Column(
        "created_at",
        "timestamp",
        path="createdAt",
        description="When the record was created in HubSpot",
    ),
    Column(
        "updated_at",
        "timestamp",
        path="updatedAt",
        description="When the record was last updated in HubSpot",
    ),
    Column(
        "archived",
        "bool",
        description="Whether the record is archived (deleted into HubSpot's recycling bin)",
    ),
    Column(
        "archived_at",
        "timestamp",
        path="archivedAt",
        description="When the record was archived, if it was",
    ),
]
_BOOKKEEPING = [
    Column(
        "_changed_at",
        "timestamp",
        description="When the record last changed in HubSpot (updated or archived)",
    ),
    Column(
        "_deleted",
        "bool",
        description="True when the record is archived in HubSpot or no longer listed; the "
        "copy keeps it",
    ),
]

COLUMNS: dict[str, list[Column]] = {
    dataset: [
        *_ENVELOPE,
        *(
            Column(
                name,
                _KINDS.get(name, "string"),
                path=f"properties.{name}",
                description=described,
            )
            for name, described in properties.items()
        ),
        *_BOOKKEEPING,
    ]
    for dataset, properties in PROPERTY_DESCRIPTIONS.items()
}
