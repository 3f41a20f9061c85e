"""A column of the copy as a connector declares it, and how its value is read from a record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What lifeboat's own bookkeeping columns mean, for a person reading the copy. A connector
# whose `_changed_at` comes from somewhere particular says so in its own description.
CHANGED_AT_DESCRIPTION = "When the record last changed at the vendor, as lifeboat saw it"
DELETED_DESCRIPTION = (
    "True when the vendor deleted the record or no longer lists it; the copy keeps it"
)


@dataclass(frozen=True)
class Column:
    """A column of the copy: its name, where it sits in the vendor's record, and its type.

    `path` is a dotted path into the record ("billing_details.email"); `kind` is one of
    string, int, float, bool, timestamp (epoch seconds or ISO 8601), date (a calendar day),
    json (kept as text).
    `key` marks primary-key columns, declared non-null as dlt declares them.
    `description` says in one line what the value means, in the vendor's words where the
    vendor documents the field; the Dagster asset pages show it.
    """

    name: str
    kind: str = "string"
    path: str | None = None
    key: bool = False  # part of the primary key: never null
    # Words about the column, not its shape: two columns that read the same values into
    # the same type are the same column whatever they say (and cache as one Arrow plan).
    description: str = field(default="", compare=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple((self.path or self.name).split("."))


def value_at(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value at a dotted path into a record (None where the path does not lead)."""
    value: Any = record
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
