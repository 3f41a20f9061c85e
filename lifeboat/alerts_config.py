"""The `alerts:` section of lifeboat.yaml: where alerts go (no section means the log only)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _env_name(field: str, value: str | None) -> str | None:
    """Secrets are named, never written: the file holds the variable's name only."""
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(
            f"{field} must name an environment variable in capitals (like "
            "LIFEBOAT_WEBHOOK_URL), not hold the value itself; export the value in that "
            "variable instead"
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WebhookConfig(_Model):
    """A Slack-compatible incoming webhook: lifeboat posts `{"text": ...}` to it."""

    url_env: str = Field(
        description="Environment variable holding the webhook URL (the URL is a secret)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url_env")
    @classmethod
    def _url_env(cls, value: str) -> str:
        return _env_name("url_env", value) or value


class EmailConfig(_Model):
    """Email over SMTP to the people who must act."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    from_address: str = Field(alias="from", description="The sender address.")
    to: list[str] = Field(min_length=1, description="Who receives the alerts.")
    starttls: bool = True
    user_env: str | None = Field(
        default=None, description="Environment variable holding the SMTP user name."
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the SMTP password."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("user_env", "password_env")
    @classmethod
    def _env_names(cls, value: str | None) -> str | None:
        return _env_name("user_env/password_env", value)

    @field_validator("from_address")
    @classmethod
    def _sender(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"expected an email address, got {value!r}")
        return value

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"expected email addresses, got {address!r}")
        return value


class AlertsConfig(_Model):
    """Alert channels; the local JSON-lines log under the data directory is always on."""

    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None
