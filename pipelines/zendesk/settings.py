"""Zendesk Support's incremental export contract as the connector relies on it."""

from __future__ import annotations

from pipelines.arrow import Column

# The incremental exports return at most 1000 records a page (per_page <= 1000), and
# allow 10 requests a minute (30 with the High Volume add-on), answering more with 429
# and Retry-After, which the session waits out within the retry budget (pipelines.http):
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
# The cursor-based export never repeats a record within a run (the time-based one repeats
# a page's last second); a record exported again by the next run is merged on its id.
PER_PAGE = 1000
EXPORT_PATHS = {
    "tickets": "/api/v2/incremental/tickets/cursor.json",
    "users": "/api/v2/incremental/users/cursor.json",
}
# The export refuses a start_time within the last minute (422, this description) and
# leaves out what changed in that minute:
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
START_TIME_FLOOR_SECONDS = 60
TOO_RECENT_START_TIME = "Too recent start_time"
# The field the export orders by and filters `start_time` on: tickets carry
# generated_timestamp (moved by every update, system ones too); users only updated_at.
CHANGED_AT = {"tickets": "generated_timestamp", "users": "updated_at"}
# Zendesk keeps deleted records in the export: tickets with this status, users inactive.
DELETED_TICKET_STATUS = "deleted"
# The `error` code of the 403 body of an account suspended for billing.
SUSPENDED_ERROR = "AccountSuspended"
# Placeholder of the catalog's base URL that the account's subdomain fills.
SUBDOMAIN_OPTION = "subdomain"

_BOOKKEEPING = {
    name: [Column("_changed_at", "timestamp", path=field), Column("_deleted", "bool")]
    for name, field in CHANGED_AT.items()
}

COLUMNS: dict[str, list[Column]] = {
    "tickets": [
        Column("id", "int", key=True),
        Column("subject"),
        Column("description"),
        Column("status"),
        Column("priority"),
        Column("type"),
        Column("requester_id", "int"),
        Column("submitter_id", "int"),
        Column("assignee_id", "int"),
        Column("organization_id", "int"),
        Column("group_id", "int"),
        Column("brand_id", "int"),
        Column("ticket_form_id", "int"),
        Column("problem_id", "int"),
        Column("recipient"),
        Column("via_channel", path="via.channel"),
        Column("external_id"),
        Column("is_public", "bool"),
        Column("has_incidents", "bool"),
        Column("satisfaction_score", path="satisfaction_rating.score"),
        Column("tags", "json"),
        Column("custom_fields", "json"),
        Column("due_at", "timestamp"),
        Column("created_at", "timestamp"),
        Column("updated_at", "timestamp"),
        Column("generated_timestamp", "int"),
        *_BOOKKEEPING["tickets"],
    ],
    "users": [
        Column("id", "int", key=True),
        Column("name"),
        Column("email"),
        Column("phone"),
        Column("role"),
        Column("active", "bool"),
        Column("suspended", "bool"),
        Column("verified", "bool"),
        Column("organization_id", "int"),
        Column("default_group_id", "int"),
        Column("external_id"),
        Column("locale"),
        Column("time_zone"),
        Column("iana_time_zone"),
        Column("details"),
        Column("notes"),
        Column("tags", "json"),
        Column("user_fields", "json"),
        Column("last_login_at", "timestamp"),
        Column("created_at", "timestamp"),
        Column("updated_at", "timestamp"),
        *_BOOKKEEPING["users"],
    ],
}
