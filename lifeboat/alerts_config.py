"""The `alerts:` section of lifeboat.yaml: where alerts go (no section means the log only)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lifeboat.secrets import EnvName


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WebhookConfig(_Model):
    """A Slack-compatible incoming webhook: lifeboat posts `{"text": ...}` to it."""

    url_env: EnvName = Field(
        description="Environment variable holding the webhook URL (the URL is a secret)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class EmailConfig(_Model):
    """Email over SMTP to the people who must act, over TLS that verifies the server."""

    host: str = Field(description="The SMTP server; its certificate must be issued to this name.")
    port: int = Field(default=587, ge=1, le=65535)
    from_address: str = Field(alias="from", description="The sender address.")
    to: list[str] = Field(min_length=1, description="Who receives the alerts.")
    tls: Literal["starttls", "implicit", "none"] = Field(
        default="starttls",
        description=(
            "starttls: upgrade the connection (port 587); implicit: TLS from the first byte "
            "(port 465); none: plain text, for a relay on this machine only."
        ),
    )
    starttls: bool = Field(default=True, description="The older switch: false means tls: none.")
    ca_file: Path | None = Field(
        default=None,
        description=(
            "PEM certificate of the CA that signed the server's certificate, for a private "
            "CA; the system's trusted CAs otherwise."
        ),
    )
    user_env: EnvName | None = Field(
        default=None, description="Environment variable holding the SMTP user name."
    )
    password_env: EnvName | None = Field(
        default=None, description="Environment variable holding the SMTP password."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @property
    def transport(self) -> str:
        """How the connection is protected: `tls`, or none when `starttls: false` says so."""
        return self.tls if self.starttls else "none"

    @model_validator(mode="after")
    def _one_transport(self) -> EmailConfig:
        if not self.starttls and self.tls == "implicit":
            raise ValueError("starttls: false and tls: implicit contradict; keep tls alone")
        return self

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        """Read now, so that check-config, not the first alert, says the file is wrong."""
        if value is None:
            return value
        path = value.expanduser().resolve()
        try:
            ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError):
            raise ValueError(
                "cannot be read as PEM certificates; give the path of the certificate of the "
                "CA that signed the SMTP server's certificate"
            ) from None
        return path

    @field_validator("from_address")
    @classmethod
    def _sender(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("expected an email address such as lifeboat@example.com")
        return value

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        if any("@" not in address for address in value):
            raise ValueError("expected email addresses such as owner@example.com")
        return value


class AlertsConfig(_Model):
    """Alert channels; the local JSON-lines log under the data directory is always on."""

    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None
