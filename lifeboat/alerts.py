"""Alerts to a person: one per change of state, to a webhook, email and a local log."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import smtplib
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import duckdb
import requests

from lifeboat.alerts_config import AlertsConfig
from lifeboat.paths import DataHome
from lifeboat.secrets import mask, secret_values
from pipelines.registry import vendors

log = logging.getLogger("lifeboat.alerts")

OK = "ok"
# Problems a copy can be in; "recovered" is the alert sent on the way back to OK.
PROBLEMS = (
    "stale",
    "locked_out",
    "outage",
    "rate_limited",
    "bad_response",
    "schema_drift",
    "suspected_shrink",
    "failing_runs",
)
# "catching_up" is a notice, not a state: a backfill of what an outage missed has started.
KINDS = (*PROBLEMS, "recovered", "catching_up", "topology")
# What each kind says in a subject line.
HEADLINES = {
    "stale": "copy is stale",
    "locked_out": "locked out",
    "outage": "not answering",
    "rate_limited": "rate limited",
    "bad_response": "unreadable answers",
    "schema_drift": "data changed shape",
    "suspected_shrink": "suspected lockout or partial outage",
    "failing_runs": "copy runs failing",
    "recovered": "recovered",
    "catching_up": "catching up",
    "topology": "topology health changed",
}
VENDOR_WIDE = "*"
STATE_FILE = "state.json"
LOG_FILE = "alerts.jsonl"
HISTORY_FILE = "alerts.duckdb"


def alerts_dir(home: Path) -> Path:
    return DataHome(home).alerts_dir


@dataclass(frozen=True)
class Alert:
    """One message to a person about one vendor (or one of its datasets)."""

    kind: str
    vendor: str
    dataset: str | None
    message: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The vendor's name as people know it; the registry's when not given (see Alerter).
    title: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; expected one of {KINDS}")

    @property
    def subject(self) -> str:
        title = self.title or vendors().title(self.vendor)
        where = f"{title} {self.dataset}" if self.dataset else title
        return f"[lifeboat] {where}: {HEADLINES[self.kind]}"

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.message}"

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["time"] = self.time.isoformat(timespec="seconds")
        return record


class DeliveryFailed(Exception):
    """A channel could not deliver; the text names the channel, never its URL or password."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass
class WebhookChannel:
    """A Slack-compatible incoming webhook (`{"text": ...}`)."""

    url: str | None
    url_env: str = "the webhook variable"
    timeout_seconds: float = 10.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        if not self.url:
            raise DeliveryFailed(f"webhook: {self.url_env} is not set")
        try:
            # A redirect could carry the alert to any host: none is followed.
            response = requests.post(
                self.url,
                json={"text": alert.text},
                timeout=self.timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            # requests puts the URL in its messages, and a webhook URL is a secret.
            raise DeliveryFailed(f"webhook: {type(exc).__name__}") from None
        if response.is_redirect:
            raise DeliveryFailed(
                f"webhook: HTTP {response.status_code}, a redirect lifeboat does not follow; "
                f"set {self.url_env} to the address the webhook's provider gives"
            )
        if response.status_code >= 300:
            raise DeliveryFailed(f"webhook: HTTP {response.status_code}")


# OpenSSL's codes for a certificate issued to another name or address than the one dialled.
_NAME_MISMATCH = (62, 64)


@dataclass
class EmailChannel:
    """Email over SMTP; TLS verifies the server's certificate before a password is sent."""

    host: str
    port: int
    sender: str
    to: Sequence[str]
    tls: str = "starttls"  # starttls, implicit or none (alerts_config.EmailConfig.tls)
    ca_file: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message.set_content(alert.message)
        try:
            # Verifies the chain (the system's CAs, or ca_file's) and the host name.
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError):
            raise DeliveryFailed("email: the ca_file cannot be read as PEM certificates") from None
        try:
            with self._connect(context) as smtp:
                if self.user and self.password:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryFailed(self._untrusted(exc)) from None
        except ssl.SSLError as exc:
            raise DeliveryFailed(
                f"email: TLS with {self.host}:{self.port} failed ({exc.reason}); use tls: "
                "implicit for port 465 and tls: starttls for port 587"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            # SMTP errors may quote the login exchange; name the failure only.
            raise DeliveryFailed(f"email: {type(exc).__name__}") from None

    def _connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        """A connection on which nothing is sent in clear unless `tls` is none."""
        if self.tls == "implicit":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_seconds, context=context
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        if self.tls == "starttls":
            try:
                smtp.starttls(context=context)
            except smtplib.SMTPNotSupportedError:
                smtp.close()
                raise DeliveryFailed(
                    f"email: {self.host} does not offer STARTTLS, and lifeboat sends nothing "
                    "unencrypted; use tls: implicit (port 465) or a server that offers STARTTLS"
                ) from None
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _untrusted(self, error: ssl.SSLCertVerificationError) -> str:
        if error.verify_code in _NAME_MISMATCH:
            return (
                f"email: the SMTP server's certificate is not issued to {self.host}; set "
                "alerts.email.host to the name on the certificate"
            )
        return (
            f"email: the SMTP server's certificate is not trusted ({error.verify_message}); "
            "if a private CA signed it, set alerts.email.ca_file to that CA's certificate"
        )


class History:
    """Every alert sent, in a DuckDB table a person can query."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, alert: Alert, delivered: list[str], failed: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(self.path)) as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS alerts (time TIMESTAMPTZ, kind VARCHAR, "
                "vendor VARCHAR, dataset VARCHAR, message VARCHAR, delivered VARCHAR[], "
                "failed VARCHAR[])"
            )
            con.execute(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    alert.time,
                    alert.kind,
                    alert.vendor,
                    alert.dataset,
                    alert.message,
                    delivered,
                    failed,
                ],
            )

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with duckdb.connect(str(self.path), read_only=True) as con:
            cursor = con.execute("SELECT * FROM alerts ORDER BY time")
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class Alerter:
    """Decides when to alert (changes of state only) and delivers to every channel."""

    def __init__(
        self,
        home: Path,
        channels: Sequence[Channel] = (),
        secret_envs: Sequence[str] = (),
        secrets: Sequence[str] = (),
        titles: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = alerts_dir(home)
        # Vendor titles from the inventory: a vendor lifeboat.yaml configures names itself.
        self.titles = dict(titles or {})
        self.channels = list(channels)
        self.secret_envs = list(secret_envs)
        self.secrets = [s for s in secrets if s]
        self.history = History(self.directory / HISTORY_FILE)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Sensors may tick in parallel processes; the state file must change one at a time.
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_states(self) -> dict[str, dict[str, str]]:
        path = self.directory / STATE_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def _write_states(self, states: dict[str, dict[str, str]]) -> None:
        path = self.directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(states, indent=2, sort_keys=True))
        os.replace(tmp, path)

    def state(self, vendor: str, dataset: str | None = None) -> str:
        entry = self._read_states().get(_key(vendor, dataset))
        return entry["state"] if entry else OK

    def states(self) -> dict[str, str]:
        return {key: entry["state"] for key, entry in self._read_states().items()}

    def observe(
        self,
        vendor: str,
        dataset: str | None,
        state: str,
        describe: str | Callable[[str], str],
        now: datetime | None = None,
    ) -> Alert | None:
        """Record the state of (vendor, dataset); alert only if it changed.

        `describe` is the message, or words it from the previous state when an alert is due.
        A first sighting that is OK sends nothing: there was nothing to recover from.
        """
        if state != OK and state not in PROBLEMS:
            raise ValueError(f"unknown state {state!r}; expected 'ok' or one of {PROBLEMS}")
        now = now or datetime.now(UTC)
        with self._locked():
            states = self._read_states()
            key = _key(vendor, dataset)
            previous = states.get(key, {}).get("state", OK)
            if previous == state:
                return None
            states[key] = {"state": state, "since": now.isoformat(timespec="seconds")}
            self._write_states(states)
            kind = "recovered" if state == OK else state
            message = describe if isinstance(describe, str) else describe(previous)
            alert = Alert(kind, vendor, dataset, message, now)
            return self._deliver(alert)

    def send(self, alert: Alert) -> Alert:
        """Deliver an alert now, whatever the state (e.g. 'catching up' notices)."""
        with self._locked():
            return self._deliver(alert)

    def _deliver(self, alert: Alert) -> Alert:
        secrets = [*self.secrets, *secret_values(self.secret_envs)]
        alert = replace(
            alert,
            message=mask(alert.message, secrets),
            title=alert.title or self.titles.get(alert.vendor),
        )
        delivered, failed = ["log"], []
        for channel in self.channels:
            try:
                channel.send(alert)
                delivered.append(channel.name)
            except DeliveryFailed as exc:
                failed.append(str(exc))
                log.warning("alert not delivered: %s", exc)
        record = {**alert.as_record(), "delivered": delivered, "failed": failed}
        with (self.directory / LOG_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        try:
            self.history.add(alert, delivered, failed)
        except duckdb.Error as exc:
            # Someone may hold the history file open; the JSON-lines log has the alert.
            log.warning("alert history not updated: %s", type(exc).__name__)
        log.info("%s", alert.text)
        return alert

    def log_records(self) -> list[dict[str, Any]]:
        path = self.directory / LOG_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _key(vendor: str, dataset: str | None) -> str:
    return f"{vendor}/{dataset or VENDOR_WIDE}"


def kind_for_error(error_kind: str) -> str:
    """The alert state for a VendorError's `kind` ('lockout' -> 'locked_out')."""
    return {
        "outage": "outage",
        "lockout": "locked_out",
        "rate limited": "rate_limited",
        "bad response": "bad_response",
        "schema drift": "schema_drift",
        "suspected lockout or partial outage": "suspected_shrink",
    }.get(error_kind, "failing_runs")


def build_alerter(
    home: Path,
    config: AlertsConfig,
    *,
    webhook_url: str | None = None,
    smtp_user: str | None = None,
    smtp_password: str | None = None,
    secret_envs: Sequence[str] = (),
    titles: Mapping[str, str] | None = None,
) -> Alerter:
    """An Alerter for the channels in lifeboat.yaml; the secrets are passed in, never read here."""
    channels: list[Channel] = []
    if config.webhook is not None:
        channels.append(
            WebhookChannel(webhook_url, config.webhook.url_env, config.webhook.timeout_seconds)
        )
    if config.email is not None:
        email = config.email
        channels.append(
            EmailChannel(
                email.host,
                email.port,
                email.from_address,
                list(email.to),
                tls=email.transport,
                ca_file=str(email.ca_file) if email.ca_file else None,
                user=smtp_user,
                password=smtp_password,
                timeout_seconds=email.timeout_seconds,
            )
        )
    secrets = [s for s in (webhook_url, smtp_password) if s]
    return Alerter(home, channels, secret_envs, secrets, titles)
