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

# Descriptions are Zendesk's own (the Support API reference's ticket and user objects),
# shortened to a line; tests/pipelines/test_column_descriptions.py checks them against it.
_BOOKKEEPING = {
    "tickets": [
        Column(
            "_changed_at",
            "timestamp",
            path=CHANGED_AT["tickets"],
            description="When the ticket last changed in Zendesk, system updates included",
        ),
        Column(
            "_deleted",
            "bool",
            description="True when the ticket is deleted in Zendesk or no longer listed; the "
            "copy keeps it",
        ),
    ],
    "users": [
        Column(
            "_changed_at",
            "timestamp",
            path=CHANGED_AT["users"],
            description="The time the user was last updated in Zendesk",
        ),
        Column(
            "_deleted",
            "bool",
            description="True when the user is deleted in Zendesk (no longer active) or no "
            "longer listed; the copy keeps it",
        ),
    ],
}

COLUMNS: dict[str, list[Column]] = {
    "tickets": [
        Column(
            "id",
            "int",
            key=True,
            description="Zendesk's ID for the ticket, automatically assigned when the ticket "
            "is created",
        ),
        Column("subject", description="The value of the subject field for this ticket"),
        Column("description", description="The first comment on the ticket"),
        Column(
            "status",
            description="The state of the ticket: new, open, pending, hold, solved, closed "
            "(or deleted)",
        ),
        Column(
            "priority",
            description="The urgency with which the ticket should be addressed: urgent, high, "
            "normal or low",
        ),
        Column(
            "type",
            description="The type of this ticket: problem, incident, question or task",
        ),
        Column("requester_id", "int", description="The user who requested this ticket"),
        Column(
            "submitter_id",
            "int",
            description="The user who submitted the ticket, always the author of its first comment",
        ),
        Column("assignee_id", "int", description="The agent currently assigned to the ticket"),
        Column("organization_id", "int", description="The organization of the requester"),
        Column("group_id", "int", description="The group this ticket is assigned to"),
        Column(
            "brand_id",
            "int",
            description="The id of the brand this ticket is associated with (Enterprise only)",
        ),
        Column(
            "ticket_form_id",
            "int",
            description="The id of the ticket form to render for the ticket (Enterprise only)",
        ),
        Column(
            "problem_id",
            "int",
            description="For tickets of type incident, the ID of the problem the incident is "
            "linked to",
        ),
        Column("recipient", description="The original recipient email address of the ticket"),
        Column(
            "via_channel",
            path="via.channel",
            description="Explains how the ticket was created: its channel, e.g. web or email",
        ),
        Column(
            "external_id",
            description="An id you can use to link Zendesk Support tickets to local records",
        ),
        Column(
            "is_public",
            "bool",
            description="True if any comments on the ticket are public, false otherwise",
        ),
        Column(
            "has_incidents",
            "bool",
            description="True if this ticket has been marked as a problem, false otherwise",
        ),
        Column(
            "satisfaction_score",
            path="satisfaction_rating.score",
            description="The satisfaction rating of the ticket if it exists, else the state "
            "of satisfaction: offered or unoffered",
        ),
        Column("tags", "json", description="The array of tags applied to this ticket"),
        Column("custom_fields", "json", description="Custom fields for the ticket"),
        Column(
            "due_at",
            "timestamp",
            description="If this is a ticket of type task, its due date",
        ),
        Column("created_at", "timestamp", description="When the ticket was created"),
        Column("updated_at", "timestamp", description="When the ticket last got updated"),
        Column(
            "generated_timestamp",
            "int",
            description="Unix time of the ticket's latest change, system updates included "
            "(the order of Zendesk's incremental export)",
        ),
        *_BOOKKEEPING["tickets"],
    ],
    "users": [
        Column(
            "id",
            "int",
            key=True,
            description="Zendesk's ID for the user, automatically assigned when the user is "
            "created",
        ),
        Column("name", description="The user's name"),
        Column("email", description="The user's primary email address"),
        Column("phone", description="The user's primary phone number"),
        Column("role", description="The user's role: end-user, agent or admin"),
        Column("active", "bool", description="False if the user has been deleted"),
        Column(
            "suspended",
            "bool",
            description="If the user is suspended: their tickets are suspended too, and they "
            "cannot sign in",
        ),
        Column(
            "verified",
            "bool",
            description="Whether the user's primary identity is verified",
        ),
        Column(
            "organization_id",
            "int",
            description="The id of the organization the user is associated with",
        ),
        Column("default_group_id", "int", description="The id of the user's default group"),
        Column("external_id", description="A unique identifier from another system"),
        Column("locale", description="The user's locale"),
        Column("time_zone", description="The user's time zone"),
        Column("iana_time_zone", description="The user's time zone in the IANA format"),
        Column(
            "details",
            description="Any details you want to store about the user, such as an address",
        ),
        Column("notes", description="Any notes you want to store about the user"),
        Column(
            "tags",
            "json",
            description="The user's tags, present if your account has user tagging enabled",
        ),
        Column(
            "user_fields",
            "json",
            description="Values of custom fields in the user's profile",
        ),
        Column(
            "last_login_at",
            "timestamp",
            description="The last time the user signed in to Zendesk Support",
        ),
        Column("created_at", "timestamp", description="The time the user was created"),
        Column("updated_at", "timestamp", description="The time the user was last updated"),
        *_BOOKKEEPING["users"],
    ],
}
