"""Mailchimp Marketing API 3.0's contract as the connector relies on it."""

from __future__ import annotations

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

_DELETED = Column("_deleted", "bool")

COLUMNS: dict[str, list[Column]] = {
    "lists": [
        Column("id", key=True),
        Column("web_id", "int"),
        Column("name"),
        Column("date_created", "timestamp"),
        Column("list_rating", "int"),
        Column("visibility"),
        Column("double_optin", "bool"),
        Column("email_type_option", "bool"),
        Column("subscribe_url_short"),
        Column("permission_reminder"),
        Column("company", path="contact.company"),
        Column("country", path="contact.country"),
        Column("from_name", path="campaign_defaults.from_name"),
        Column("from_email", path="campaign_defaults.from_email"),
        Column("member_count", "int", path="stats.member_count"),
        Column("unsubscribe_count", "int", path="stats.unsubscribe_count"),
        Column("cleaned_count", "int", path="stats.cleaned_count"),
        Column("campaign_count", "int", path="stats.campaign_count"),
        Column("open_rate", "float", path="stats.open_rate"),
        Column("click_rate", "float", path="stats.click_rate"),
        Column("campaign_last_sent", "timestamp", path="stats.campaign_last_sent"),
        Column("last_sub_date", "timestamp", path="stats.last_sub_date"),
        Column("last_unsub_date", "timestamp", path="stats.last_unsub_date"),
        Column("contact", "json"),
        # Audiences have no change time: the newest activity they report stands in for it.
        Column("_changed_at", "timestamp", path="date_created"),
        _DELETED,
    ],
    "members": [
        Column("list_id", key=True),
        Column("id", key=True),
        Column("email_address"),
        Column("unique_email_id"),
        Column("contact_id"),
        Column("full_name"),
        Column("first_name", path="merge_fields.FNAME"),
        Column("last_name", path="merge_fields.LNAME"),
        Column("phone", path="merge_fields.PHONE"),
        Column("web_id", "int"),
        Column("email_type"),
        Column("status"),
        Column("unsubscribe_reason"),
        Column("vip", "bool"),
        Column("member_rating", "int"),
        Column("language"),
        Column("email_client"),
        Column("source"),
        Column("ip_signup"),
        Column("timestamp_signup", "timestamp"),
        Column("ip_opt"),
        Column("timestamp_opt", "timestamp"),
        Column("last_changed", "timestamp"),
        Column("avg_open_rate", "float", path="stats.avg_open_rate"),
        Column("avg_click_rate", "float", path="stats.avg_click_rate"),
        Column("country_code", path="location.country_code"),
        Column("timezone", path="location.timezone"),
        Column("latitude", "float", path="location.latitude"),
        Column("longitude", "float", path="location.longitude"),
        Column("tags_count", "int"),
        Column("tags", "json"),
        Column("merge_fields", "json"),
        Column("interests", "json"),
        Column("marketing_permissions", "json"),
        Column("_changed_at", "timestamp", path="last_changed"),
        _DELETED,
    ],
    "campaigns": [
        Column("id", key=True),
        Column("web_id", "int"),
        Column("type"),
        Column("status"),
        Column("create_time", "timestamp"),
        Column("send_time", "timestamp"),
        Column("emails_sent", "int"),
        Column("content_type"),
        Column("archive_url"),
        Column("long_archive_url"),
        Column("list_id", path="recipients.list_id"),
        Column("list_name", path="recipients.list_name"),
        Column("segment_text", path="recipients.segment_text"),
        Column("recipient_count", "int", path="recipients.recipient_count"),
        Column("subject_line", path="settings.subject_line"),
        Column("preview_text", path="settings.preview_text"),
        Column("title", path="settings.title"),
        Column("from_name", path="settings.from_name"),
        Column("reply_to", path="settings.reply_to"),
        Column("opens", "int", path="report_summary.opens"),
        Column("unique_opens", "int", path="report_summary.unique_opens"),
        Column("open_rate", "float", path="report_summary.open_rate"),
        Column("clicks", "int", path="report_summary.clicks"),
        Column("subscriber_clicks", "int", path="report_summary.subscriber_clicks"),
        Column("click_rate", "float", path="report_summary.click_rate"),
        Column("ecommerce", "json", path="report_summary.ecommerce"),
        # Sent campaigns changed when they went out; the rest when they were created.
        Column("_changed_at", "timestamp", path="create_time"),
        _DELETED,
    ],
}

PRIMARY_KEYS: dict[str, str | tuple[str, ...]] = {
    "lists": "id",
    # A person on two audiences is two members with the same id (the email's MD5).
    "members": ("list_id", "id"),
    "campaigns": "id",
}
