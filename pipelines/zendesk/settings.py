"""Zendesk Support's incremental export contract as the connector relies on it."""

from __future__ import annotations

from pipelines.arrow import Column

# The cursor-based incremental export returns at most 1000 records a page.
PER_PAGE = 1000
EXPORT_PATHS = {
    "tickets": "/api/v2/incremental/tickets/cursor.json",
    "users": "/api/v2/incremental/users/cursor.json",
}
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
