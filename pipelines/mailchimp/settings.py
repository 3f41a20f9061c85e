"""Mailchimp Marketing API 3.0's contract as the connector relies on it."""

from __future__ import annotations

from lifeboat.columns import DELETED_DESCRIPTION
from pipelines.arrow import Column

API_ROOT = "/3.0"
# Mailchimp's maximum `count` for list endpoints (the default is 10).
PAGE_COUNT = 1000
# The catalog's base URL placeholder; an API key ends with it ("...-us6"). An explicit
# `dc` option in lifeboat.yaml wins over the key's suffix.
DC_OPTION = "dc"
# "The Marketing API has a 120-second timeout on API calls": waiting longer for an answer is
# pointless, and giving up sooner abandons pages Mailchimp would still serve (the shared read
# timeout is 60 s). https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
CALL_TIMEOUT_SECONDS = 120.0
# "The Marketing API has a limit of 10 simultaneous connections. You'll receive a 429 error
# if you reach the limit. At exceptionally high volumes, you may receive an HTTP 429 or 403
# without a JSON body." (same page). The connector reads one page at a time, so it holds one
# connection; a 429, or a 403 that carries no problem body, is throttling and is retried.
MAX_CONNECTIONS = 10
# `since_last_changed` and friends mean "after": asking from one second before the cursor
# catches changes made in the same second as the last one copied (merge drops the repeats).
SINCE_OVERLAP_SECONDS = 1
# Campaigns carry no "last changed" time, but their reports (opens, clicks) keep moving for
# about a week after sending: each run re-reads campaigns created or sent in that window.
CAMPAIGN_REFRESH_SECONDS = 7 * 86_400
# Listing members leaves archived (deleted) contacts out unless asked for by status, so
# each list is read twice: everyone else, then the archived.
MEMBER_PASSES: tuple[str | None, ...] = (None, "archived")
ARCHIVED = "archived"
# `_links` are hypermedia on every record and page: large, and of no use to a copy.
EXCLUDE_FIELDS = {
    "lists": "lists._links,_links",
    "members": "members._links,_links",
    "campaigns": "campaigns._links,_links",
}
# Problem titles that mean the account or key is refused, whatever the status code;
# Mailchimp answers an account under compliance review with a 503.
LOCKOUT_TITLES = {
    "API Key Missing": "set the Mailchimp API key in the environment variable named in "
    "lifeboat.yaml",
    "API Key Invalid": "check that the Mailchimp API key is active and ends with its data "
    "center (for example -us6)",
    "Wrong Datacenter": "the API key belongs to another data center: check its suffix or the "
    "`dc` option",
    "User Disabled": "the Mailchimp account is disabled: log in to Mailchimp to see why",
    "Forbidden": "the API key's user may not read this: use a key of an account owner or admin",
    "Compliance Related": "Mailchimp has paused the account for a compliance review: log in to "
    "Mailchimp to see why",
}

# What each dataset holds, in a line a business owner understands.
DESCRIPTIONS = {
    "lists": "Your Mailchimp audiences.",
    "members": "Everyone on your Mailchimp audiences, with their subscription status.",
    "campaigns": "Email campaigns sent or drafted in Mailchimp.",
}

# Column descriptions are Mailchimp's own (the Marketing API reference's list, member and
# campaign objects), shortened to a line; Mailchimp's app calls a list an audience.
_DELETED = Column("_deleted", "bool", description=DELETED_DESCRIPTION)

COLUMNS: dict[str, list[Column]] = {
    "lists": [
        Column("id", key=True, description="A string that uniquely identifies this audience"),
        Column(
            "web_id",
            "int",
            description="The ID used in the Mailchimp web application for this audience",
        ),
        Column("name", description="The name of the audience"),
        Column(
            "date_created",
            "timestamp",
            description="The date and time that this audience was created",
        ),
        Column(
            "list_rating",
            "int",
            description="An auto-generated activity score for the audience (0-5)",
        ),
        Column("visibility", description="Legacy: visibility settings are no longer used"),
        Column(
            "double_optin",
            "bool",
            description="Whether or not to require the subscriber to confirm subscription via "
            "email",
        ),
        Column(
            "email_type_option",
            "bool",
            description="Whether subscribers can choose HTML or plain-text emails; if not, they "
            "receive HTML emails with a plain-text alternative",
        ),
        Column(
            "subscribe_url_short", description="Shortened URL of this audience's subscribe form"
        ),
        Column("permission_reminder", description="The permission reminder for the audience"),
        Column(
            "company",
            path="contact.company",
            description="The company name in the contact information of the audience's "
            "campaign footers",
        ),
        Column(
            "country",
            path="contact.country",
            description="Two-character ISO 3166 country code of the audience's contact information",
        ),
        Column(
            "from_name",
            path="campaign_defaults.from_name",
            description="The default from name for campaigns sent to this audience",
        ),
        Column(
            "from_email",
            path="campaign_defaults.from_email",
            description="The default from email for campaigns sent to this audience",
        ),
        Column(
            "member_count",
            "int",
            "stats.member_count",
            description="The number of active members in the audience",
        ),
        Column(
            "unsubscribe_count",
            "int",
            "stats.unsubscribe_count",
            description="The number of members who have unsubscribed from the audience",
        ),
        Column(
            "cleaned_count",
            "int",
            "stats.cleaned_count",
            description="The number of members cleaned from the audience",
        ),
        Column(
            "campaign_count",
            "int",
            "stats.campaign_count",
            description="The number of campaigns in any status that use this audience",
        ),
        Column(
            "open_rate",
            "float",
            "stats.open_rate",
            description="The average open rate per campaign for the audience, as a "
            "percentage (0 to 100)",
        ),
        Column(
            "click_rate",
            "float",
            "stats.click_rate",
            description="The average click rate per campaign for the audience, as a "
            "percentage (0 to 100)",
        ),
        Column(
            "campaign_last_sent",
            "timestamp",
            "stats.campaign_last_sent",
            description="The date and time the last campaign was sent to this audience",
        ),
        Column(
            "last_sub_date",
            "timestamp",
            "stats.last_sub_date",
            description="The date and time of the last time someone subscribed to this audience",
        ),
        Column(
            "last_unsub_date",
            "timestamp",
            "stats.last_unsub_date",
            description="The date and time of the last time someone unsubscribed from this "
            "audience",
        ),
        Column(
            "contact",
            "json",
            description="Contact information displayed in campaign footers to comply with "
            "international spam laws",
        ),
        # Audiences have no change time: the newest activity they report stands in for it.
        Column(
            "_changed_at",
            "timestamp",
            "date_created",
            description="When the audience last showed activity: its creation, last sign-up, "
            "last unsubscribe or last campaign sent",
        ),
        _DELETED,
    ],
    "members": [
        Column("list_id", key=True, description="The id of the audience (list) of this member"),
        Column(
            "id",
            key=True,
            description="The MD5 hash of the lowercase version of the member's email address",
        ),
        Column("email_address", description="Email address for a subscriber"),
        Column(
            "unique_email_id", description="An identifier for the address across all of Mailchimp"
        ),
        Column(
            "contact_id",
            description="Mailchimp's ID for the contact, whether or not it has an email",
        ),
        Column("full_name", description="The contact's full name"),
        Column(
            "first_name",
            path="merge_fields.FNAME",
            description="First name (the FNAME merge field)",
        ),
        Column(
            "last_name", path="merge_fields.LNAME", description="Last name (the LNAME merge field)"
        ),
        Column(
            "phone", path="merge_fields.PHONE", description="Phone number (the PHONE merge field)"
        ),
        Column(
            "web_id",
            "int",
            description="The ID used in the Mailchimp web application for this member",
        ),
        Column("email_type", description="Type of email this member asked to get: html or text"),
        Column(
            "status",
            description="Subscriber's current status: subscribed, unsubscribed, cleaned, pending, "
            "transactional or archived",
        ),
        Column("unsubscribe_reason", description="A subscriber's reason for unsubscribing"),
        Column("vip", "bool", description="VIP status for subscriber"),
        Column("member_rating", "int", description="Star rating for this member, between 1 and 5"),
        Column("language", description="If set/detected, the subscriber's language"),
        Column("email_client", description="The member's email client"),
        Column(
            "source", description="The source from which the subscriber was added to this audience"
        ),
        Column("ip_signup", description="IP address the subscriber signed up from"),
        Column(
            "timestamp_signup",
            "timestamp",
            description="The date and time the subscriber signed up for the audience",
        ),
        Column(
            "ip_opt",
            description="The IP address the subscriber used to confirm their opt-in status",
        ),
        Column(
            "timestamp_opt",
            "timestamp",
            description="The date and time the subscriber confirmed their opt-in status",
        ),
        Column(
            "last_changed",
            "timestamp",
            description="The date and time the member's info was last changed",
        ),
        Column(
            "avg_open_rate",
            "float",
            "stats.avg_open_rate",
            description="A subscriber's average open rate",
        ),
        Column(
            "avg_click_rate",
            "float",
            "stats.avg_click_rate",
            description="A subscriber's average clickthrough rate",
        ),
        Column(
            "country_code",
            path="location.country_code",
            description="The unique code for the location country",
        ),
        Column("timezone", path="location.timezone", description="The timezone for the location"),
        Column("latitude", "float", "location.latitude", description="The location latitude"),
        Column("longitude", "float", "location.longitude", description="The location longitude"),
        Column("tags_count", "int", description="The number of tags applied to this member"),
        Column("tags", "json", description="Up to 50 tags applied to this member"),
        Column(
            "merge_fields",
            "json",
            description="Every merge field (audience field) of the member, keyed by merge tag",
        ),
        Column(
            "interests", "json", description="The member's interests: true or false per interest ID"
        ),
        Column(
            "marketing_permissions",
            "json",
            description="The marketing permissions for the subscriber",
        ),
        Column(
            "_changed_at",
            "timestamp",
            "last_changed",
            description="When the member's info last changed in Mailchimp",
        ),
        Column(
            "_deleted",
            "bool",
            description="True when the contact is archived in Mailchimp or no longer listed; "
            "the copy keeps it",
        ),
    ],
    "campaigns": [
        Column("id", key=True, description="A string that uniquely identifies this campaign"),
        Column(
            "web_id",
            "int",
            description="The ID used in the Mailchimp web application for this campaign",
        ),
        Column(
            "type", description="The type of campaign: regular, plaintext, absplit, rss or variate"
        ),
        Column(
            "status",
            description="The current status of the campaign: save, paused, schedule, sending or "
            "sent",
        ),
        Column(
            "create_time", "timestamp", description="The date and time the campaign was created"
        ),
        Column("send_time", "timestamp", description="The date and time the campaign was sent"),
        Column(
            "emails_sent", "int", description="The total number of emails sent for this campaign"
        ),
        Column(
            "content_type",
            description="How the campaign's content is put together: template, drag_and_drop, "
            "html or url",
        ),
        Column("archive_url", description="The link to the campaign's archive version"),
        Column(
            "long_archive_url", description="The original link to the campaign's archive version"
        ),
        Column(
            "list_id",
            path="recipients.list_id",
            description="The unique list id of the audience the campaign is sent to",
        ),
        Column(
            "list_name",
            path="recipients.list_name",
            description="The name of the audience the campaign is sent to",
        ),
        Column(
            "segment_text",
            path="recipients.segment_text",
            description="A description of the segment used for the campaign, marked up with HTML",
        ),
        Column(
            "recipient_count",
            "int",
            "recipients.recipient_count",
            description="Count of the recipients on the associated audience",
        ),
        Column(
            "subject_line",
            path="settings.subject_line",
            description="The subject line for the campaign",
        ),
        Column(
            "preview_text",
            path="settings.preview_text",
            description="The preview text for the campaign",
        ),
        Column("title", path="settings.title", description="The title of the campaign"),
        Column(
            "from_name",
            path="settings.from_name",
            description="The 'from' name on the campaign (not an email address)",
        ),
        Column(
            "reply_to",
            path="settings.reply_to",
            description="The reply-to email address for the campaign",
        ),
        Column(
            "opens",
            "int",
            "report_summary.opens",
            description="The total number of opens for the campaign",
        ),
        Column(
            "unique_opens",
            "int",
            "report_summary.unique_opens",
            description="The number of unique opens",
        ),
        Column(
            "open_rate",
            "float",
            "report_summary.open_rate",
            description="The number of unique opens divided by the total number of successful "
            "deliveries",
        ),
        Column(
            "clicks",
            "int",
            "report_summary.clicks",
            description="The total number of clicks for the campaign",
        ),
        Column(
            "subscriber_clicks",
            "int",
            "report_summary.subscriber_clicks",
            description="The number of unique clicks",
        ),
        Column(
            "click_rate",
            "float",
            "report_summary.click_rate",
            description="The number of unique clicks divided by the total number of successful "
            "deliveries",
        ),
        Column(
            "ecommerce",
            "json",
            "report_summary.ecommerce",
            description="E-commerce stats for the campaign: total orders, spent and revenue",
        ),
        # Sent campaigns changed when they went out; the rest when they were created.
        Column(
            "_changed_at",
            "timestamp",
            "create_time",
            description="When the campaign went out, or when it was created if it has not been "
            "sent",
        ),
        _DELETED,
    ],
}

PRIMARY_KEYS: dict[str, str | tuple[str, ...]] = {
    "lists": "id",
    # A person on two audiences is two members with the same id (the email's MD5).
    "members": ("list_id", "id"),
    "campaigns": "id",
}
