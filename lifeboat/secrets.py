"""Secrets: the one masking function every outgoing text goes through, and what a name is."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Annotated
from urllib.parse import quote, quote_plus

from pydantic import AfterValidator

MASK = "[redacted]"
# Shorter values would mask ordinary words; no real key is this short.
MIN_SECRET_LENGTH = 4
# An encoded form shorter than this would mask ordinary text; it carries a few bits only.
MIN_ENCODED_LENGTH = 6
# Vendor error bodies sometimes echo what they were sent; never let a key's shape through:
# Stripe keys, bearer tokens, Google access tokens, HubSpot private app tokens, Mailchimp
# keys (32 hex digits and the data center).
_SECRET_SHAPES = re.compile(
    r"(sk|rk|pk)_(live|test)_[A-Za-z0-9]+|Bearer\s+\S+|Basic\s+[A-Za-z0-9+/=]{8,}|"
    r"ya29\.[A-Za-z0-9._-]+|pat-[a-z]{2,3}\d?-[0-9a-f-]{8,}|\b[0-9a-f]{32}-us\d+\b",
    re.IGNORECASE,
)
# An environment variable's name as lifeboat.yaml writes it: words of capitals and digits
# joined by single underscores, starting with a letter.
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
# A word of a name this long that mixes letters and digits is a token, not a word.
TOKEN_WORD_LENGTH = 12
# No word of a real variable's name is this long (INTERNATIONALIZATION has 20 letters).
MAX_WORD_LENGTH = 24


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret masked, raw or encoded, and anything shaped like a key.

    A secret also leaves the process encoded: in a Basic Authorization header (the base64 of
    "user:secret", whatever the user), a URL's query string (percent-encoded), a token
    exchange. Each of those forms is masked as the raw value is.
    """
    forms = {form for secret in set(secrets) for form in _forms(secret)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return _SECRET_SHAPES.sub(MASK, text)


@lru_cache(maxsize=256)
def _forms(secret: str) -> frozenset[str]:
    """The secret as it may appear in text: raw, percent-encoded and inside base64."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return frozenset()
    encoded = {quote(secret, safe=""), quote_plus(secret, safe=""), *_base64_forms(secret)}
    return frozenset({secret, *(form for form in encoded if len(form) >= MIN_ENCODED_LENGTH)})


def _base64_forms(secret: str) -> set[str]:
    """The base64 characters that encode `secret` wherever it sits in the encoded bytes.

    Base64 turns 3 bytes into 4 characters, so the secret's characters depend on its offset
    in the plaintext modulo 3 (e.g. after "user:"). For each offset, the characters whose
    six bits all come from the secret are the same whatever surrounds it: masking them
    masks the secret in any base64 blob, standard or URL-safe.
    """
    raw = secret.encode()
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = (8 * offset + 5) // 6
        end = 8 * (offset + len(raw)) // 6
        form = encoded[start:end]
        forms |= {form, form.replace("+", "-").replace("/", "_")}
    return forms


def secret_values(
    env_names: Iterable[str], environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The values of the environment variables that hold secrets (those that are set)."""
    source = os.environ if environ is None else environ
    return tuple(value for name in env_names if (value := source.get(name)))


def env_name_problem(value: str) -> str | None:
    """Why `value` is not the name of an environment variable, or None when it is one.

    lifeboat.yaml names the variables that hold secrets and never holds a secret, so a value
    that looks like one is refused, whatever its case:

    - a name is words of capitals and digits joined by single underscores (STRIPE_API_KEY,
      GA4_TOKEN, PASSWORD): real keys have lower case letters, dots, dashes or slashes;
    - it does not start like a known key (SK_LIVE_..., a Stripe key in capitals);
    - no word is a token: 12 or more characters mixing letters and digits (HUNTER2SECRETPW99,
      an AWS key id) or more than 24 characters (a long random string). Names are made of
      words and short tags such as GA4, OAUTH2 or S3.

    The answer never contains the value: it may be a secret.
    """
    advice = (
        "put the secret in an environment variable and write the variable's name here, "
        "like STRIPE_API_KEY"
    )
    if _SECRET_SHAPES.match(value):
        return (
            "must name an environment variable, not hold a secret (this looks like a key); "
            f"{advice}"
        )
    if not _ENV_NAME.match(value):
        return (
            "must name an environment variable (capitals, digits and single underscores), not "
            f"hold a secret; {advice}"
        )
    if any(_is_token(word) for word in value.split("_")):
        return (
            "must name an environment variable, not hold a secret (part of it looks like a "
            f"random token); {advice}"
        )
    return None


def _is_token(word: str) -> bool:
    mixed = any(c.isalpha() for c in word) and any(c.isdigit() for c in word)
    return (mixed and len(word) >= TOKEN_WORD_LENGTH) or len(word) > MAX_WORD_LENGTH


def _env_name(value: str) -> str:
    problem = env_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A field of lifeboat.yaml that names the environment variable holding a secret.
EnvName = Annotated[str, AfterValidator(_env_name)]
