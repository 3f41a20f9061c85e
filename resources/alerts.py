"""The `alerts` resource: lifeboat's alerter with its secrets read at run time (dg.EnvVar)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lifeboat.alerts import Alerter, build_alerter
from lifeboat.alerts_config import AlertsConfig, EmailConfig, WebhookConfig
from lifeboat.config import Inventory


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go: a webhook and email when configured, always the local log."""

    home: str
    webhook_url_env: str | None = None
    webhook_url: str | None = None
    webhook_timeout_seconds: float = 10.0
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_to: list[str] = []
    smtp_starttls: bool = True
    smtp_tls: str = "starttls"
    smtp_ca_file: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 10.0
    # Names of the variables holding vendor credentials: their values are scrubbed from alerts.
    secret_envs: list[str] = []
    # Each vendor's name as people know it, from the inventory (configured vendors too).
    titles: dict[str, str] = {}

    def alerter(self) -> Alerter:
        config = AlertsConfig(
            webhook=(
                WebhookConfig(
                    url_env=self.webhook_url_env, timeout_seconds=self.webhook_timeout_seconds
                )
                if self.webhook_url_env
                else None
            ),
            email=(
                EmailConfig(
                    host=self.smtp_host,
                    port=self.smtp_port,
                    from_address=self.smtp_from or "",
                    to=self.smtp_to,
                    starttls=self.smtp_starttls,
                    tls=self.smtp_tls,
                    ca_file=self.smtp_ca_file,
                    timeout_seconds=self.smtp_timeout_seconds,
                )
                if self.smtp_host
                else None
            ),
        )
        return build_alerter(
            Path(self.home),
            config,
            webhook_url=self.webhook_url,
            smtp_user=self.smtp_user,
            smtp_password=self.smtp_password,
            secret_envs=self.secret_envs,
            titles=self.titles,
        )


def alerts_resource(inventory: Inventory, data_dir: Path) -> AlertsResource:
    """The resource for the `alerts:` section of the inventory, secrets as EnvVar references."""
    config = inventory.alerts
    secret_envs = sorted(
        {env for vendor in inventory.vendors for env in inventory.credential_envs(vendor).values()}
    )
    fields: dict[str, object] = {
        "home": str(data_dir),
        "secret_envs": secret_envs,
        "titles": {vendor: inventory.registry.title(vendor) for vendor in inventory.vendors},
    }
    if config.webhook is not None:
        fields |= {
            "webhook_url_env": config.webhook.url_env,
            "webhook_url": dg.EnvVar(config.webhook.url_env),
            "webhook_timeout_seconds": config.webhook.timeout_seconds,
        }
    if config.email is not None:
        email = config.email
        fields |= {
            "smtp_host": email.host,
            "smtp_port": email.port,
            "smtp_from": email.from_address,
            "smtp_to": list(email.to),
            "smtp_starttls": email.starttls,
            "smtp_tls": email.transport,
            "smtp_ca_file": str(email.ca_file) if email.ca_file else None,
            "smtp_timeout_seconds": email.timeout_seconds,
        }
        if email.user_env:
            fields["smtp_user"] = dg.EnvVar(email.user_env)
        if email.password_env:
            fields["smtp_password"] = dg.EnvVar(email.password_env)
    return AlertsResource(**fields)
