"""People's names shared by every emulated vendor: the same customer shows up in each."""

from __future__ import annotations

from emulators.core import Dataset

FIRST_NAMES = [
    "Ada",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Eve",
    "Farah",
    "Gustav",
    "Hana",
    "Idris",
    "José",
    "Kenji",
    "Lena",
    "Mateo",
    "Nia",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Søren",
    "Tariq",
]
LAST_NAMES = [
    "Abbott",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Patel",
]


def person(ds: Dataset, index: int) -> tuple[str, str, str]:
    """A deterministic (name, email, phone) for a customer index."""
    h = ds.hash(index, 1)
    first = FIRST_NAMES[h % len(FIRST_NAMES)]
    last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)]
    ascii_last = last.lower().replace("í", "i").replace("ó", "o").replace("ü", "u").replace("'", "")
    ascii_first = first.lower().replace("é", "e").replace("ø", "o")
    email = f"{ascii_first}.{ascii_last}{index}@example.com"
    phone = f"+1555{(h >> 16) % 10_000_000:07d}"
    return f"{first} {last}", email, phone
