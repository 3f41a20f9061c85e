"""A column of the copy as a connector declares it, and how its value is read from a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """A column of the copy: its name, where it sits in the vendor's record, and its type.

    `path` is a dotted path into the record ("billing_details.email"); `kind` is one of
    string, int, float, bool, timestamp (epoch seconds or ISO 8601), date (a calendar day),
    json (kept as text).
    `key` marks primary-key columns, declared non-null as dlt declares them.
    """

    name: str
    kind: str = "string"
    path: str | None = None
    key: bool = False  # part of the primary key: never null

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
