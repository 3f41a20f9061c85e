"""The credentials each emulated vendor accepts: the demo keys, or those a test gives it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from emulators.settings import DEMO_ENV

Credentials = dict[str, dict[str, str]]


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of an env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{path}:{number}: expected NAME=value")
        values[name.strip()] = value.strip()
    return values


def by_vendor(env: Mapping[str, str], vendors: Iterable[str]) -> Credentials:
    """Group `VENDOR_NAME=value` variables by vendor: STRIPE_API_KEY -> stripe.api_key.

    The same naming holds for lifeboat.yaml's default credential variables, so one env file
    serves the emulators and the connectors alike.
    """
    grouped: Credentials = {vendor: {} for vendor in vendors}
    for name, value in env.items():
        for vendor in grouped:
            prefix = f"{vendor.upper()}_"
            if name.startswith(prefix):
                grouped[vendor][name[len(prefix) :].lower()] = value
    return grouped


def demo_credentials(vendors: Iterable[str], path: Path = DEMO_ENV) -> Credentials:
    """The demo keys of `emulators/demo.env`, which the demo and the tests use."""
    return by_vendor(read_env_file(path), vendors)
