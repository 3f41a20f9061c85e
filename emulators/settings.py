"""Constants of the vendor emulators."""

from __future__ import annotations

from pathlib import Path

DAY = 86_400
# The emulated clock starts here (2026-01-01T00:00:00Z) unless told otherwise.
EPOCH = 1_767_225_600
# Records that exist at the start were created over this many days before it.
HISTORY_DAYS = 365
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_SEED = 42
CONTROL_PREFIX = "_emulator"
# The credentials the emulators accept unless told others (and the demo exports).
DEMO_ENV = Path(__file__).parent / "demo.env"
# The checkout these emulators run from: they say it, so that a checkout reuses only its own.
CHECKOUT = Path(__file__).resolve().parent.parent
# What the emulators call themselves when asked who they are (`/_emulator/identity`).
SERVICE = "lifeboat-emulators"
