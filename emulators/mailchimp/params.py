"""A listing's query parameters, read and checked as Mailchimp does (400 naming the field)."""

from __future__ import annotations

from emulators.core import BadRequest, Request
from emulators.mailchimp.data import parse_iso

DEFAULT_COUNT = 10
# "count: The number of records to return. Default value is 10. Maximum value is 1000"
# https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination
MAX_COUNT = 1000
INVALID = (
    "The resource submitted could not be validated. For field-specific details, see the "
    "'errors' array."
)


def invalid(name: str, message: str) -> BadRequest:
    """Mailchimp's 400 for a parameter it cannot use, naming it in `errors`."""
    return BadRequest(400, INVALID, errors=[{"field": name, "message": message}])


class Params:
    """Typed access to one request's query parameters."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def text(self, name: str) -> str | None:
        raw = self.request.arg(name)
        return raw if raw else None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.request.arg(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise invalid(name, "This value should be of type integer.")
        value = int(raw)
        if not low <= value <= high:
            raise invalid(name, f"This value should be between {low} and {high}.")
        return value

    def paging(self) -> tuple[int, int]:
        """`count` (1..1000, default 10) and `offset`."""
        return (
            self.integer("count", DEFAULT_COUNT, 1, MAX_COUNT),
            self.integer("offset", 0, 0, 1 << 40),
        )

    def time(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse_iso(raw)
        except ValueError:
            raise invalid(
                name,
                "This value should be a valid ISO 8601 date and time, "
                "e.g. 2015-10-21T15:41:36+00:00.",
            ) from None

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        raw = self.text(name)
        if raw is not None and raw not in choices:
            raise invalid(name, f"Value must be one of: {', '.join(choices)}.")
        return raw

    def flag(self, name: str) -> bool | None:
        """A boolean: `true`/`false` (the official client sends Python's `True`/`False`)."""
        raw = self.text(name)
        if raw is None:
            return None
        if raw.lower() not in ("true", "false"):
            raise invalid(name, "This value should be of type boolean.")
        return raw.lower() == "true"

    def descending(self) -> bool:
        """`sort_dir`: ASC (default) or DESC."""
        raw = self.text("sort_dir")
        if raw is None:
            return False
        if raw.upper() not in ("ASC", "DESC"):
            raise invalid("sort_dir", "Value must be one of: ASC, DESC.")
        return raw.upper() == "DESC"
