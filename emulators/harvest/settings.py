"""Constants of the Harvest emulator, each documented limit with the page that states it."""

from __future__ import annotations

# Where record links and page links point when a request names no Host.
PUBLIC_BASE = "https://api.harvestapp.com"

# Lists take `per_page` between 1 and 2000; more answers 422. Clients, contacts and projects
# default to 2000; the invoice list documents a default of 100.
# https://help.getharvest.com/api-v2/introduction/overview/pagination/
# https://help.getharvest.com/api-v2/invoices-api/invoices/invoices/#list-all-invoices
MAX_PER_PAGE = 2000
DEFAULT_PER_PAGE = {"clients": 2000, "contacts": 2000, "projects": 2000, "invoices": 100}

# Clients, contacts and projects page with a cursor (`links.next` carries `cursor=`, and `page`
# is DEPRECATED there); the invoice list documents only `page`.
# https://help.getharvest.com/api-v2/clients-api/clients/contacts/#list-all-contacts
CURSOR_PAGED = frozenset({"clients", "contacts", "projects"})

# The rate limit: 100 requests per 15 seconds per access token, then 429 with Retry-After.
# https://help.getharvest.com/api-v2/introduction/overview/general/#rate-limiting
# Off by default (the demo and benchmarks page at full speed); these scale keys switch it on.
RATE_LIMIT_KEY = "harvest.requests_per_window"
RATE_WINDOW_KEY = "harvest.window_seconds"
DOCUMENTED_REQUESTS_PER_WINDOW = 100
DOCUMENTED_WINDOW_SECONDS = 15

# Query parameters every endpoint takes: Harvest's query-string authentication.
# https://help.getharvest.com/api-v2/authentication-api/authentication/authentication/
AUTH_PARAMS = frozenset({"access_token", "account_id"})
# `ref` is part of the page links Harvest hands out (ref=first, next_cursor, last).
PAGING_PARAMS = frozenset({"page", "per_page", "cursor", "ref"})
# Each list's documented filters (the "List all ..." table of each reference page).
FILTERS: dict[str, frozenset[str]] = {
    "clients": frozenset({"is_active", "updated_since"}),
    "contacts": frozenset({"client_id", "updated_since"}),
    "projects": frozenset({"is_active", "client_id", "updated_since"}),
    "invoices": frozenset({"client_id", "project_id", "updated_since", "from", "to", "state"}),
}
INVOICE_STATES = ("draft", "open", "paid", "closed")

# Ids grow with creation, as Harvest's do, so "newest first" is "highest id first".
CLIENT_ID_BASE = 5_735_000
CONTACT_ID_BASE = 4_706_000
PROJECT_ID_BASE = 14_308_000
INVOICE_ID_BASE = 13_150_000
LINE_ITEM_ID_BASE = 53_341_000
ME_ID = 1_782_884
