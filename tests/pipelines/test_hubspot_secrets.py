"""A HubSpot error body that echoes the private app token never carries it further."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lifeboat.errors import VendorLockout
from lifeboat.outcomes import to_metadata
from lifeboat.secrets import mask
from pipelines.base import RetryPolicy, VendorContext
from pipelines.runner import sync

# Not shaped like a HubSpot token (pat-na1-<hex>): only the configured value can mask it.
TOKEN = "hubspot-private-app-7c41d2e9b8a05f36"


class _CarelessHubSpot(BaseHTTPRequestHandler):
    """HubSpot's 401 body (status, message, correlationId, category), its message repeating
    the token it was sent, as a careless proxy or a vendor bug might."""

    def _refuse(self) -> None:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        body = json.dumps(
            {
                "status": "error",
                "message": f"The access token {token} is expired or invalid",
                "correlationId": "0b1d5a8e-3f43-4b5e-9d4c-2f6e8f0f9a11",
                "category": "INVALID_AUTHENTICATION",
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _refuse
    do_POST = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def careless_hubspot() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CarelessHubSpot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_echoed_token_is_masked_in_the_lockout_and_nowhere_under_the_data_home(
    careless_hubspot: str, home: Path
) -> None:
    ctx = VendorContext(
        "hubspot",
        careless_hubspot,
        {"access_token": TOKEN},
        datasets=("contacts",),
        retries=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(VendorLockout) as refused:
        sync(ctx, home)

    error = refused.value
    # The vendor's words stay (a person needs them), the token does not.
    assert error.detail == (
        "The access token [redacted] is expired or invalid [INVALID_AUTHENTICATION]"
    )
    # Every later mask that knows no configured secret: the error must be safe on its own.
    assert TOKEN not in mask(str(error))
    assert TOKEN not in json.dumps(to_metadata(error))
    leaked = [
        str(path.relative_to(home))
        for path in home.rglob("*")
        if path.is_file() and TOKEN.encode() in path.read_bytes()
    ]
    assert leaked == []
