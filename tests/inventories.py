"""Inventories the tests write: the vendors they copy, pointed at a test's emulators."""

from __future__ import annotations

from pathlib import Path

# The variable the Stripe key is read from in these inventories (set it to tests.keys.STRIPE_KEY).
STRIPE_KEY_ENV = "LIFEBOAT_TEST_STRIPE_KEY"


def stripe_only(tmp_path: Path, url: str, extra: str = "") -> Path:
    """A lifeboat.yaml copying Stripe alone from the emulators at `url`; `extra` goes first."""
    path = tmp_path / "lifeboat.yaml"
    path.write_text(
        extra + "vendors:\n"
        "  stripe:\n"
        f"    base_url: {url}/stripe\n"
        f"    credentials: {{api_key: {STRIPE_KEY_ENV}}}\n"
    )
    return path
