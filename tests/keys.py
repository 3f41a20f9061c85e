"""The demo keys the emulators accept (emulators/demo.env), for tests that sync through them."""

from __future__ import annotations

from emulators.credentials import demo_credentials
from emulators.server import VENDORS

DEMO = demo_credentials(VENDORS)
STRIPE_KEY = DEMO["stripe"]["api_key"]
GA4_TOKEN = DEMO["ga4"]["access_token"]
