"""Constants shared across lifeboat: file names, env var names and the vendor catalog."""

from __future__ import annotations

from typing import Any

CONFIG_ENV = "LIFEBOAT_CONFIG"
HOME_ENV = "LIFEBOAT_HOME"
DEFAULT_CONFIG_FILE = "lifeboat.yaml"
DEFAULT_HOME = ".lifeboat"
# The table of each vendor's DuckDB file holding records set aside because a field
# changed type (pipelines.drift).
QUARANTINE_TABLE = "_quarantine"

# What each vendor offers: its real API root (placeholders are filled from the vendor's
# options or credentials), the datasets lifeboat copies, and the credentials it needs.
# `daily` names the time-series datasets, partitioned by day so a missed window can be
# backfilled. `describe` says in one line, for a business owner, what each copy holds.
VENDOR_CATALOG: dict[str, dict[str, Any]] = {
    "stripe": {
        "title": "Stripe",
        "base_url": "https://api.stripe.com",
        "datasets": ["customers", "charges", "invoices", "subscriptions"],
        "daily": ["charges", "invoices"],
        "credentials": ["api_key"],
        "describe": {
            "customers": "Everyone who has paid you through Stripe, with email, phone and address.",
            "charges": "Every card payment taken through Stripe, with amount, status and refunds.",
            "invoices": "Invoices sent through Stripe: amounts due, paid and overdue.",
            "subscriptions": "Recurring plans your customers pay for, and when each renews.",
        },
    },
    "hubspot": {
        "title": "HubSpot",
        "base_url": "https://api.hubapi.com",
        "datasets": ["contacts", "companies", "deals"],
        "credentials": ["access_token"],
        "describe": {
            "contacts": "People in your HubSpot CRM, with how to reach them.",
            "companies": "Companies in your HubSpot CRM.",
            "deals": "Sales deals in your HubSpot pipeline, with stage and amount.",
        },
    },
    "zendesk": {
        "title": "Zendesk",
        "base_url": "https://{subdomain}.zendesk.com",
        "datasets": ["tickets", "users"],
        "daily": ["tickets"],
        "credentials": ["email", "api_token"],
        "describe": {
            "tickets": "Support tickets in Zendesk: who asked, about what, and if it is solved.",
            "users": "People who contacted support through Zendesk, and your agents.",
        },
    },
    "mailchimp": {
        "title": "Mailchimp",
        "base_url": "https://{dc}.api.mailchimp.com",
        "datasets": ["lists", "members", "campaigns"],
        "credentials": ["api_key"],
        "describe": {
            "lists": "Your Mailchimp audiences.",
            "members": "Everyone on your Mailchimp audiences, with their subscription status.",
            "campaigns": "Email campaigns sent or drafted in Mailchimp.",
        },
    },
    "youtube": {
        "title": "YouTube",
        "base_url": "https://www.googleapis.com",
        "datasets": ["videos", "comments", "subscribers"],
        "daily": ["comments"],
        "credentials": ["access_token"],
        "describe": {
            "videos": "Videos on your YouTube channel, with views and likes.",
            "comments": "Comments people left on your YouTube videos.",
            "subscribers": "People subscribed to your YouTube channel (those who made it public).",
        },
    },
    "ga4": {
        "title": "Google Analytics 4",
        "base_url": "https://analyticsdata.googleapis.com",
        "datasets": ["daily_metrics"],
        "daily": ["daily_metrics"],
        "credentials": ["access_token"],
        "describe": {
            "daily_metrics": (
                "Daily website visitors, sessions, page views, conversions and revenue "
                "from Google Analytics."
            ),
        },
    },
}
