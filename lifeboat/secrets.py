"""Masking secrets: the one function every log line, message, alert and report goes through."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

MASK = "[redacted]"
# Shorter values would mask ordinary words; no real key is this short.
MIN_SECRET_LENGTH = 4
# Vendor error bodies sometimes echo what they were sent; never let a key's shape through:
# Stripe keys, bearer tokens, Google access tokens, HubSpot private app tokens, Mailchimp
# keys (32 hex digits and the data center).
_SECRET_SHAPES = re.compile(
    r"(sk|rk|pk)_(live|test)_[A-Za-z0-9]+|Bearer\s+\S+|Basic\s+[A-Za-z0-9+/=]{8,}|"
    r"ya29\.[A-Za-z0-9._-]+|pat-[a-z]{2,3}\d?-[0-9a-f-]{8,}|\b[0-9a-f]{32}-us\d+\b",
    re.IGNORECASE,
)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret value and anything shaped like a key masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len)[::-1]:
        text = text.replace(secret, MASK)
    return _SECRET_SHAPES.sub(MASK, text)


def secret_values(
    env_names: Iterable[str], environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The values of the environment variables that hold secrets (those that are set)."""
    source = os.environ if environ is None else environ
    return tuple(value for name in env_names if (value := source.get(name)))
