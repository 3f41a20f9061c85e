"""Alerts travel safely: SMTP verifies the server before the password, webhooks stay put."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lifeboat.alerts import Alerter, build_alerter
from lifeboat.config import load_inventory
from lifeboat.errors import ConfigError
from pipelines.registry import vendors
from tests.lifeboat.test_alerts import Mailbox, WebhookReceiver, _free_port

PASSWORD = "smtp-Zq8xW-pa55"


def certificate(directory: Path, name: str, ip: str | None = None) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for `name` and optionally an IP address."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    names: list[x509.GeneralName] = [x509.DNSName(name)]
    if ip:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SmtpServer:
    """aiosmtpd on a free port of 127.0.0.1: STARTTLS, implicit TLS or plain, AUTH recorded."""

    def __init__(self, mode: str, cert: tuple[Path, Path] | None = None) -> None:
        self.mailbox = Mailbox()
        self.port = _free_port()
        tls: dict[str, object] = {}
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*cert)
            tls = (
                {"ssl_context": context}
                if mode == "implicit"
                else {"tls_context": context, "require_starttls": True}
            )
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.mailbox.authenticate,
            # aiosmtpd only knows of TLS it started itself (STARTTLS).
            auth_require_tls=mode == "starttls",
            **tls,
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def email_alerter(tmp_path: Path, port: int, extra: str = "") -> Alerter:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "lifeboat.yaml"
    path.write_text(
        "alerts:\n  email:\n    host: 127.0.0.1\n"
        f"    port: {port}\n    from: lifeboat@example.com\n    to: [owner@example.com]\n"
        "    user_env: SMTP_USER\n    password_env: SMTP_PASSWORD\n" + extra
    )
    inventory = load_inventory(path, vendors())
    return build_alerter(
        tmp_path / "home", inventory.alerts, smtp_user="lifeboat", smtp_password=PASSWORD
    )


def outage(alerter: Alerter) -> dict:
    alerter.observe("stripe", None, "outage", "Stripe is not answering.")
    return alerter.log_records()[-1]


def test_starttls_to_an_untrusted_certificate_never_sends_the_password(tmp_path: Path) -> None:
    cert = certificate(tmp_path, "attacker.invalid")
    with SmtpServer("starttls", cert) as server:
        record = outage(email_alerter(tmp_path, server.port))
    assert server.mailbox.logins == []
    assert server.mailbox.messages == []
    [failure] = record["failed"]
    assert failure.startswith("email: the SMTP server's certificate is not trusted (")
    assert "set alerts.email.ca_file" in failure
    assert PASSWORD not in json.dumps(record)


def test_a_trusted_certificate_issued_to_another_name_is_refused(tmp_path: Path) -> None:
    cert = certificate(tmp_path, "attacker.invalid")
    with SmtpServer("starttls", cert) as server:
        record = outage(email_alerter(tmp_path, server.port, f"    ca_file: {cert[0]}\n"))
    assert server.mailbox.logins == []
    assert record["failed"] == [
        "email: the SMTP server's certificate is not issued to 127.0.0.1; set "
        "alerts.email.host to the name on the certificate"
    ]


def test_with_ca_file_the_alert_is_delivered_over_starttls(tmp_path: Path) -> None:
    cert = certificate(tmp_path, "localhost", ip="127.0.0.1")
    with SmtpServer("starttls", cert) as server:
        record = outage(email_alerter(tmp_path, server.port, f"    ca_file: {cert[0]}\n"))
    assert record["delivered"] == ["log", "email"]
    assert server.mailbox.logins == [("lifeboat", PASSWORD)]
    assert [m["Subject"] for m in server.mailbox.messages] == ["[lifeboat] Stripe: not answering"]


def test_implicit_tls_delivers_and_verifies(tmp_path: Path) -> None:
    trusted = certificate(tmp_path, "localhost", ip="127.0.0.1")
    with SmtpServer("implicit", trusted) as server:
        extra = f"    tls: implicit\n    ca_file: {trusted[0]}\n"
        record = outage(email_alerter(tmp_path, server.port, extra))
    assert record["delivered"] == ["log", "email"]
    assert server.mailbox.logins == [("lifeboat", PASSWORD)]
    with SmtpServer("implicit", certificate(tmp_path, "attacker.invalid")) as server:
        record = outage(email_alerter(tmp_path / "second", server.port, "    tls: implicit\n"))
    assert server.mailbox.logins == []
    assert record["failed"][0].startswith("email: the SMTP server's certificate is not trusted")


def test_a_server_without_starttls_gets_no_password(tmp_path: Path) -> None:
    with SmtpServer("plain") as server:
        record = outage(email_alerter(tmp_path, server.port))
    assert server.mailbox.logins == []
    assert record["failed"] == [
        "email: 127.0.0.1 does not offer STARTTLS, and lifeboat sends nothing unencrypted; use "
        "tls: implicit (port 465) or a server that offers STARTTLS"
    ]


def test_a_ca_file_that_is_no_certificate_is_refused_by_check_config(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as error:
        email_alerter(tmp_path, 465, f"    ca_file: {bogus}\n")
    assert "alerts.email.ca_file: cannot be read as PEM certificates" in str(error.value)


class Redirector:
    """A webhook address that answers every POST with a redirect to `target`."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def test_the_webhook_never_follows_a_redirect_to_another_address(
    tmp_path: Path, elsewhere: WebhookReceiver
) -> None:
    redirector = Redirector(elsewhere.url)
    try:
        path = tmp_path / "lifeboat.yaml"
        path.write_text("alerts:\n  webhook: {url_env: LIFEBOAT_WEBHOOK_URL}\n")
        alerts = load_inventory(path, vendors()).alerts
        alerter = build_alerter(tmp_path / "home", alerts, webhook_url=redirector.url)
        record = outage(alerter)
    finally:
        redirector.close()
    assert elsewhere.posts == []
    assert record["failed"] == [
        "webhook: HTTP 307, a redirect lifeboat does not follow; set LIFEBOAT_WEBHOOK_URL to "
        "the address the webhook's provider gives"
    ]
