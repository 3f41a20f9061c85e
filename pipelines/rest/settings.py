"""How lifeboat.yaml describes a REST API to the generic connector (`kind: rest`).

The vocabulary is dlt's rest_api's (https://dlthub.com/docs/dlt-ecosystem/verified-sources/rest_api/basic):
`auth` and `paginator` take the same types and fields, `incremental` the same `cursor_path`,
`start_param` and `end_param`. Secrets never appear here: an auth field that holds one
names a credential of the vendor's `credentials:` instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifeboat.secrets import mask

# Auth types of dlt's rest_api the connector takes, and the fields of each that hold a
# secret (named credentials here, filled in at run time). OAuth2 client credentials need a
# token exchange lifeboat does not make for a generic API.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "api_key": ("api_key",),
    "http_basic": ("username", "password"),
}
# Column kinds a dataset may declare (lifeboat.columns.Column).
KINDS = ("string", "int", "float", "bool", "timestamp", "date", "json")
# A column's description is one line on its asset page.
DESCRIPTION_MAX_CHARS = 200


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Incremental(_Model):
    """The field that says when a record last changed, and the parameters that filter on it."""

    cursor_path: str = Field(description="Dotted path of the record's last-change time.")
    start_param: str | None = Field(
        default=None, description="Query parameter asking for records changed since a time."
    )
    end_param: str | None = Field(
        default=None, description="Query parameter asking for records changed before a time."
    )
    initial_value: str | None = Field(
        default=None, description="ISO 8601 time the first copy starts from (all if unset)."
    )


class RestColumn(_Model):
    """A declared field: its type, and what it means (`amount: float` is short for the kind)."""

    kind: str = Field(description="One of string, int, float, bool, timestamp, date, json.")
    description: str = Field(default="", description="One line a business owner understands.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, declared: Any) -> Any:
        if isinstance(declared, str):
            return {"kind": declared}
        if not isinstance(declared, dict):
            raise ValueError(
                "give its kind (amount: float), or its kind and description "
                "(amount: {kind: float, description: ...})"
            )
        if unknown := sorted(set(declared) - set(cls.model_fields)):
            raise ValueError(f"{unknown[0]} is not a column setting; give kind and description")
        if "kind" not in declared:
            raise ValueError(f"give its kind beside its description: one of {', '.join(KINDS)}")
        return declared

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        return kind

    @field_validator("description")
    @classmethod
    def _one_line(cls, description: str) -> str:
        description = description.strip()
        if "\n" in description:
            raise ValueError("one line, please: it is shown beside the column")
        if len(description) > DESCRIPTION_MAX_CHARS:
            raise ValueError(
                f"{len(description)} characters; keep it to one line of at most "
                f"{DESCRIPTION_MAX_CHARS}"
            )
        return description


class RestDataset(_Model):
    """One dataset: an endpoint listing records, and how a record is identified."""

    description: str = Field(description="One line a business owner understands.")
    path: str = Field(description="The listing's path under base_url, e.g. /v2/clients.")
    data_selector: str | None = Field(
        default=None, description="Dotted path of the records in a page; the API's by default."
    )
    primary_key: str | list[str] = "id"
    incremental: Incremental | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    columns: dict[str, RestColumn] = Field(
        default_factory=dict,
        description="Types of some fields (id: int), or types and descriptions "
        "(amount: {kind: float, description: ...}); others are typed from their values.",
    )
    daily: bool = Field(default=False, description="A time series, partitioned by day.")

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.primary_key,) if isinstance(self.primary_key, str) else tuple(self.primary_key)

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError("a path must start with '/', like /v2/clients")
        return path

    @model_validator(mode="after")
    def _daily_needs_a_cursor(self) -> RestDataset:
        if self.daily and self.incremental is None:
            raise ValueError("daily: a dataset copied by day needs an incremental cursor")
        return self


class RestApi(_Model):
    """The `api:` section of a `kind: rest` vendor in lifeboat.yaml."""

    auth: dict[str, Any] | None = Field(
        default=None, description="dlt rest_api auth: type, and credential names for secrets."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every request; {credential} fills in."
    )
    paginator: dict[str, Any] | str = Field(description="dlt rest_api paginator.")
    data_selector: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Sent with every listing.")
    ping: str = Field(description="Path of a cheap authenticated read, e.g. /v2/users/me.")
    datasets: dict[str, RestDataset]

    @field_validator("headers")
    @classmethod
    def _no_literal_secrets(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if mask(value) != value:
                raise ValueError(
                    f"headers.{name} holds what looks like a secret; lifeboat.yaml never "
                    "holds one: name a credential in `{credential}` braces and set its "
                    "environment variable instead"
                )
        return headers

    @model_validator(mode="after")
    def _check(self) -> RestApi:
        if not self.datasets:
            raise ValueError("datasets: name at least one dataset")
        return self
