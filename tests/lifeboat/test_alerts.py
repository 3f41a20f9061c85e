"""Alerts reach a real webhook receiver and a real SMTP server, once per change of state."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from emulators.control import EmulatorControl
from emulators.credentials import read_env_file
from emulators.server import EmulatorServer
from emulators.settings import DEMO_ENV
from lifeboat.alerts import OK, Alert, Alerter, History, build_alerter
from lifeboat.alerts_config import AlertsConfig
from lifeboat.config import load_inventory
from lifeboat.errors import ConfigError, VendorOutage
from lifeboat.instance import PROJECT_ROOT
from lifeboat.messages import explain, gather_facts
from pipelines.base import RetryPolicy, VendorContext
from pipelines.ping import ping
from pipelines.registry import vendors


class WebhookReceiver:
    """A Slack-like incoming webhook on a free local port that keeps what it was sent."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.paths: list[str] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.paths.append(self.path)
                received.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/s3cr3tpath"

    @property
    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd handler keeping every message delivered to it."""

    def __init__(self) -> None:
        self.messages: list = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, auth_data: object
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield mailbox, port
    controller.stop()


def channels_config(webhook_url_env: str, smtp_port: int) -> AlertsConfig:
    return AlertsConfig.model_validate(
        {
            "webhook": {"url_env": webhook_url_env},
            "email": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "from": "lifeboat@example.com",
                "to": ["owner@example.com"],
                "starttls": False,
                "user_env": "SMTP_TEST_USER",
                "password_env": "SMTP_TEST_PASSWORD",
            },
        }
    )


def test_one_alert_per_change_of_state_on_every_channel(
    home: Path, webhook: WebhookReceiver, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    alerter = build_alerter(
        home,
        channels_config("ALERT_TEST_WEBHOOK", port),
        webhook_url=webhook.url,
        smtp_user="lifeboat",
        smtp_password="smtp-pa55word",
    )

    def stale(_previous: str) -> str:
        return "Your copy of Stripe charges is 2h old, past the 30m allowed."

    def fresh(previous: str) -> str:
        return f"Your copy of Stripe charges is fresh again (it was {previous})."

    assert alerter.observe("stripe", "charges", "stale", stale) is not None
    # Still stale on the next ticks: nothing more is sent.
    assert alerter.observe("stripe", "charges", "stale", stale) is None
    assert alerter.observe("stripe", "charges", "stale", stale) is None
    recovered = alerter.observe("stripe", "charges", OK, fresh)
    assert recovered is not None and recovered.kind == "recovered"

    assert len(webhook.posts) == 2
    assert webhook.texts[0].startswith("[lifeboat] Stripe charges: copy is stale\n")
    assert "2h old" in webhook.texts[0]
    assert "fresh again (it was stale)" in webhook.texts[1]
    assert [m["Subject"] for m in mailbox.messages] == [
        "[lifeboat] Stripe charges: copy is stale",
        "[lifeboat] Stripe charges: recovered",
    ]
    assert mailbox.messages[0]["To"] == "owner@example.com"
    assert "2h old" in mailbox.messages[0].get_payload()
    assert mailbox.logins == [("lifeboat", "smtp-pa55word")] * 2

    records = alerter.log_records()
    assert [r["kind"] for r in records] == ["stale", "recovered"]
    assert records[0]["delivered"] == ["log", "webhook", "email"]
    rows = History(home / "alerts" / "alerts.duckdb").rows()
    assert [(r["kind"], r["vendor"], r["dataset"]) for r in rows] == [
        ("stale", "stripe", "charges"),
        ("recovered", "stripe", "charges"),
    ]


def test_state_survives_a_restart_and_vendor_wide_state_is_separate(home: Path) -> None:
    first = Alerter(home)
    first.observe("zendesk", None, "locked_out", lambda _: "Zendesk rejected the API token.")
    # A fresh process (the daemon restarted) remembers the state: no second lockout alert.
    again = Alerter(home)
    assert again.observe("zendesk", None, "locked_out", lambda _: "again") is None
    assert again.state("zendesk") == "locked_out"
    # A dataset of the same vendor has its own state.
    assert again.observe("zendesk", "tickets", "stale", lambda _: "tickets stale") is not None
    # A new kind of problem is a change of state too.
    outage = again.observe("zendesk", None, "outage", lambda previous: f"was {previous}")
    assert outage is not None and outage.message == "was locked_out"
    # Fine from the start: nothing to recover from, nothing sent.
    assert again.observe("hubspot", "contacts", OK, lambda _: "fresh") is None
    # A notice (a backfill starting) is sent as it comes and changes no state.
    again.send(Alert("catching_up", "zendesk", None, "Catching up 3 missed days of tickets."))
    assert again.state("zendesk") == "outage"
    assert [r["kind"] for r in again.log_records()] == [
        "locked_out",
        "stale",
        "outage",
        "catching_up",
    ]


def test_a_vendor_lifeboat_yaml_configures_is_called_by_its_title(home: Path) -> None:
    alerter = Alerter(home, titles={"bookings": "Acme Bookings"})
    sent = alerter.observe("bookings", "appointments", "outage", lambda _: "Acme is down.")
    assert sent is not None
    assert sent.subject == "[lifeboat] Acme Bookings appointments: not answering"
    assert alerter.log_records()[-1]["title"] == "Acme Bookings"
    # Built-in vendors keep the registry's name without being told it.
    stripe = Alerter(home).send(Alert("catching_up", "stripe", None, "Catching up."))
    assert stripe.subject.startswith("[lifeboat] Stripe: ")


def test_a_failing_channel_is_recorded_without_its_url_and_the_log_still_has_it(
    home: Path,
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/hooks/s3cr3t-token"
    config = AlertsConfig.model_validate({"webhook": {"url_env": "ALERT_TEST_WEBHOOK"}})
    alerter = build_alerter(home, config, webhook_url=dead)
    alerter.observe("stripe", None, "outage", lambda _: "Stripe is not answering (503).")
    [record] = alerter.log_records()
    assert record["delivered"] == ["log"]
    assert record["failed"] == ["webhook: ConnectionError"]
    everything = (home / "alerts" / "alerts.jsonl").read_text()
    assert "s3cr3t-token" not in everything
    # A webhook variable that is not set names the variable, not a value.
    unset = build_alerter(home, config, webhook_url=None)
    unset.observe("ga4", None, "outage", lambda _: "GA4 is not answering.")
    assert unset.log_records()[-1]["failed"] == ["webhook: ALERT_TEST_WEBHOOK is not set"]


def test_secrets_never_reach_an_alert(
    home: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_TEST_KEY_FOR_ALERTS", "abc-very-secret-value")
    config = AlertsConfig.model_validate({"webhook": {"url_env": "ALERT_TEST_WEBHOOK"}})
    alerter = build_alerter(
        home, config, webhook_url=webhook.url, secret_envs=["STRIPE_TEST_KEY_FOR_ALERTS"]
    )
    alerter.observe(
        "stripe",
        None,
        "locked_out",
        lambda _: (
            "Stripe said: Invalid API Key provided: abc-very-secret-value; also "
            "sk_live_51Habcdefghijklmnop and Bearer ya29.token-value"
        ),
    )
    sent = webhook.texts[0]
    stored = (home / "alerts" / "alerts.jsonl").read_text()
    stored += str(History(home / "alerts" / "alerts.duckdb").rows())
    for secret in ("abc-very-secret-value", "sk_live_51Habcdefghijklmnop", "ya29.token-value"):
        assert secret not in sent
        assert secret not in stored
        assert webhook.url.split("/")[-1] not in stored
    assert "Invalid API Key provided: [redacted]" in sent


def test_alerts_section_absent_means_log_only_and_secrets_must_be_env_names(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("vendors: {}\n")
    assert load_inventory(plain, vendors()).alerts == AlertsConfig()
    assert build_alerter(tmp_path, AlertsConfig()).channels == []

    leaked = tmp_path / "leaked.yaml"
    leaked.write_text("alerts:\n  webhook:\n    url_env: https://hooks.slack.com/services/T/B/x\n")
    with pytest.raises(ConfigError) as failure:
        load_inventory(leaked, vendors())
    assert "alerts.webhook.url_env" in str(failure.value)
    assert "must name an environment variable" in str(failure.value)

    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "alerts:\n  email:\n    host: smtp.example.com\n    from: a@example.com\n"
        "    to: [b@example.com]\n    pasword_env: SMTP_PASSWORD\n"
    )
    with pytest.raises(ConfigError) as failure:
        load_inventory(typo, vendors())
    assert "alerts.email.pasword_env" in str(failure.value)


def test_a_vendors_html_error_page_reaches_the_alert_as_what_it_answered(
    home: Path,
    webhook: WebhookReceiver,
    emulator: EmulatorServer,
    control: EmulatorControl,
) -> None:
    """A 503 page in HTML (Zendesk in maintenance) reads as a sentence, not markup."""
    inventory = load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())
    credentials = read_env_file(DEMO_ENV)
    zendesk = VendorContext(
        "zendesk",
        f"{emulator.url}/zendesk",
        {name: credentials[env] for name, env in inventory.credential_envs("zendesk").items()},
        options={"subdomain": "yourcompany"},
        retries=RetryPolicy(max_attempts=1),
    )
    control.fault("zendesk", "outage")
    with pytest.raises(VendorOutage) as down:
        ping(zendesk)
    alerter = build_alerter(
        home,
        AlertsConfig.model_validate({"webhook": {"url_env": "ALERT_TEST_WEBHOOK"}}),
        webhook_url=webhook.url,
    )
    text = explain(down.value, gather_facts("zendesk", home, inventory))
    alerter.observe("zendesk", None, "outage", text)
    [sent] = webhook.texts
    assert sent.startswith("[lifeboat] Zendesk: not answering\nZendesk is not answering (503)")
    assert sent.endswith('(Zendesk answered "503 Service Unavailable").')
    assert "<" not in sent and "html" not in sent.lower()
