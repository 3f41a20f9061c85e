"""The demo keys the emulators accept (emulators/demo.env), for tests that sync through them."""

from __future__ import annotations

from emulators.apps import vendor_apps
from emulators.credentials import demo_credentials

DEMO = demo_credentials(vendor_apps())
STRIPE_KEY = DEMO["stripe"]["api_key"]
GA4_TOKEN = DEMO["ga4"]["access_token"]
