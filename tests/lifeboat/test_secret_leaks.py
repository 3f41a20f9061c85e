"""A credential leaves no trace: masked in every form it travels in, nowhere in the data home."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest

from automation.copies import today
from definitions import build_definitions
from lifeboat.config import load_inventory
from lifeboat.instance import dagster_home
from lifeboat.secrets import MASK, mask
from pipelines.registry import vendors
from tests.lifeboat.test_alerts import WebhookReceiver

# Shaped like no known key: only the configured value can tell it is a secret.
KEY = "lbk-Zq8xW7mN3pR5tV9y/+k"
USERS = ("", "a", "ab", "api", "me@example.com/token")


def encoded_forms(secret: str) -> dict[str, str]:
    """The secret as an echo may carry it: raw, percent-encoded, in Basic auth after users."""
    forms = {"raw": secret, "url": quote(secret, safe="")}
    for user in USERS:
        blob = base64.b64encode(f"{user}:{secret}".encode()).decode()
        forms[f"basic {user}"] = blob
        forms[f"urlsafe {user}"] = base64.urlsafe_b64encode(f"{user}:{secret}".encode()).decode()
    return forms


def secret_parts(secret: str) -> set[str]:
    """What must never be found: the secret, and a middle run of each of its base64 forms."""
    parts = {secret, quote(secret, safe="")}
    for user in USERS:
        for blob in (
            base64.b64encode(f"{user}:{secret}".encode()).decode(),
            base64.urlsafe_b64encode(f"{user}:{secret}".encode()).decode(),
        ):
            start = (len(user) + 1) * 4 // 3 + 2
            parts.add(blob[start : start + 12])
    return parts


@pytest.mark.parametrize("form", list(encoded_forms(KEY)))
def test_mask_covers_every_form_a_secret_travels_in(form: str) -> None:
    text = f"401: the API rejected {encoded_forms(KEY)[form]} (check the key)"
    masked = mask(text, [KEY])
    assert MASK in masked
    for part in secret_parts(KEY):
        assert part not in masked
    assert masked.startswith("401: the API rejected ") and masked.endswith(" (check the key)")


def test_mask_leaves_ordinary_text_alone() -> None:
    text = "Stripe answered 401 for /v1/charges?limit=100 at 10:04; the copy is unchanged."
    assert mask(text, [KEY, "hunter2-Zq8"]) == text


class _CarelessApi(BaseHTTPRequestHandler):
    """A vendor whose 401 repeats the credential it got: raw, in its header, in base64."""

    def do_GET(self) -> None:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        basic = base64.b64encode(f"api:{token}".encode()).decode()
        body = json.dumps(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Invalid API Key provided: {token}; sent {header} ({basic}) "
                    f"to {self.path}?key={quote(token, safe='')}",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def careless_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CarelessApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def files_holding(home: Path, parts: set[str]) -> dict[str, list[str]]:
    """Each file under `home` (as bytes) that holds any of `parts`, with the parts found."""
    found = {}
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [part for part in parts if part.encode() in data]
        if hits:
            found[str(path.relative_to(home))] = hits
    return found


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    """One tick of the sensor that turns a failed copy into an alert; its next cursor."""
    context = dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=cursor, resources=defs.resources
    )
    return defs.resolve_sensor_def("copy_failure_sensor").evaluate_tick(context).cursor


def test_an_echoed_credential_is_nowhere_under_the_data_home_after_a_failed_run(
    careless_api: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKS_TEST_STRIPE_KEY", KEY)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    dagster_home(home)  # the project's dagster.yaml: runs, event logs and compute logs here
    path = tmp_path / "lifeboat.yaml"
    path.write_text(
        "vendors:\n  stripe:\n"
        f"    base_url: {careless_api}\n"
        "    credentials: {api_key: LEAKS_TEST_STRIPE_KEY}\n"
        "alerts:\n  webhook: {url_env: LEAKS_TEST_WEBHOOK}\n"
    )
    with WebhookReceiver() as hook, dg.DagsterInstance.get() as instance:
        monkeypatch.setenv("LEAKS_TEST_WEBHOOK", hook.url)
        defs = build_definitions(load_inventory(path, vendors()), home)
        cursor = tick(defs, instance, None)  # a run-status sensor starts from "now"
        result = defs.resolve_job_def("copy_stripe").execute_in_process(
            partition_key=today(), instance=instance, raise_on_error=False
        )
        tick(defs, instance, cursor)
    assert not result.success
    # The person was told, in words that keep the vendor's answer but not the key.
    [alert] = hook.texts
    assert "Invalid API Key provided: [redacted]" in alert
    events = [f"{event.message} {event.event_specific_data}" for event in result.all_events]
    parts = secret_parts(KEY)
    assert [part for part in parts if any(part in text for text in [*events, alert])] == []
    # Run and event log databases, compute logs, dlt's state and trace.pickle, the alerts.
    assert files_holding(home, parts) == {}
    assert (home / "dlt" / "lifeboat_stripe" / "trace.pickle").is_file()
    assert list((home / "dagster" / "storage").rglob("compute_logs/*.err"))
