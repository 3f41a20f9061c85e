"""A vendor's error body that echoes the credential never carries it further."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from lifeboat.errors import VendorLockout
from lifeboat.outcomes import to_metadata
from pipelines.base import RetryPolicy, VendorContext, rest_client
from pipelines.http import error_detail

TOKEN = "tok-3f9a77c1d2e4b5a6"


class _Echo(BaseHTTPRequestHandler):
    """A careless API: its 401 repeats the Authorization header and the query string."""

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "message": f"rejected {self.headers.get('Authorization')} "
                f"{self.headers.get('X-API-Key')} for {self.path}"
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
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _refusal(url: str, **request: object) -> VendorLockout:
    ctx = VendorContext(
        "acme", url, credentials={"api_key": TOKEN}, retries=RetryPolicy(max_attempts=1)
    )
    with pytest.raises(VendorLockout) as refused:
        rest_client(ctx).get("/v1/things", **request)
    return refused.value


@pytest.mark.parametrize(
    "request_args",
    [
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {
            "headers": {
                "Authorization": "Basic " + base64.b64encode(f"me:{TOKEN}".encode()).decode()
            }
        },
        {"params": {"access_token": TOKEN}},
        # A header of the API's own choosing (dlt's api_key auth sends X-API-Key).
        {"headers": {"X-API-Key": TOKEN}},
    ],
)
def test_an_echoed_credential_is_masked_in_the_error_and_its_outcome(
    echo: str, request_args: dict
) -> None:
    error = _refusal(echo, **request_args)
    assert "rejected" in error.detail
    assert TOKEN not in str(error)
    assert TOKEN not in json.dumps(to_metadata(error))


def test_an_html_error_page_is_read_as_its_title() -> None:

    page = requests.Response()
    page.status_code = 503
    page.reason = "Service Unavailable"
    page._content = (
        b"<html><head><title>503 Service Unavailable</title></head>"
        b"<body><h1>503 Service Unavailable</h1><p>No server is available.</p></body></html>"
    )
    assert error_detail(page) == "503 Service Unavailable"
    plain = requests.Response()
    plain._content = b"upstream connect error"
    assert error_detail(plain) == "upstream connect error"
