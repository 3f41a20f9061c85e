"""Constants of the bad-day kit: file names, the open-work rules and the consent rules."""

from __future__ import annotations

from datetime import timedelta

CONTACTS = "contacts"
OPEN_WORK = "open_work"
VENDOR_STATUS = "vendor_status"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"

# "Renewing soon": an active subscription whose current period ends within this window.
RENEWAL_WINDOW = timedelta(days=7)

# Zendesk statuses that still need someone's work ("solved" and "closed" do not; a deleted
# ticket is left out like every record deleted upstream).
OPEN_TICKET_STATUSES = ("new", "open", "pending", "hold")
# Stripe invoices still owed: "open" is awaiting payment; "uncollectible" was written off
# but can still be paid. Drafts are not sent yet; "void" and "paid" are settled.
UNPAID_INVOICE_STATUSES = ("open", "uncollectible")
# Subscriptions that renew by themselves at the end of the period.
RENEWING_SUBSCRIPTION_STATUSES = ("active", "trialing")

# Mailchimp statuses that forbid marketing email: the person opted out, the address bounced
# ("cleaned") or the contact was archived (deleted). One of these anywhere wins over any
# "subscribed" elsewhere: a person is reachable for marketing only if never marked so.
NO_MARKETING_STATUSES = ("unsubscribed", "cleaned", "archived")
MARKETING_OK_STATUS = "subscribed"

# When records of one person disagree, the value shown comes from the first vendor here
# (billing details are the ones a customer maintains most carefully); the others are kept
# beside it with their source.
SOURCE_PRIORITY = ("stripe", "hubspot", "zendesk", "mailchimp", "youtube")

# Stripe amounts are in the currency's smallest unit; these currencies have no decimals.
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)

# Where a YouTube channel is, for people known only by their channel.
YOUTUBE_CHANNEL_URL = "https://www.youtube.com/channel/"

# How much of the past the report's charts show at most.
CHART_WINDOW = timedelta(days=14)
# Rows shown per table in the Markdown twin (the CSV exports hold them all).
MARKDOWN_ROWS = 50
# Rows per table drawn in the HTML page; beyond this the page says so and the CSV has all.
HTML_MAX_ROWS = 20_000
