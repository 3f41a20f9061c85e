"""One local HTTP server that speaks every vendor's API, with a control API for tests."""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from emulators.apps import vendor_apps
from emulators.core import (
    Clock,
    Faults,
    Request,
    Response,
    VendorApp,
    drift,
    json_response,
    mix,
    name_code,
)
from emulators.credentials import Credentials, by_vendor, demo_credentials, read_env_file
from emulators.settings import (
    CHECKOUT,
    CONTROL_PREFIX,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SEED,
    DEMO_ENV,
    EPOCH,
    SERVICE,
)

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Emulator:
    """All vendor apps over one clock and one set of faults."""

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        scale: dict[str, int] | None = None,
        start: int = EPOCH,
        credentials: Credentials | None = None,
    ):
        """`credentials` per vendor (stripe: {api_key: ...}); by default the demo keys."""
        apps = vendor_apps()
        accepted = demo_credentials(apps) if credentials is None else credentials
        self.clock = Clock(start)
        self.faults = Faults()
        self.seed = seed
        self.scale = dict(scale or {})
        self.lock = threading.RLock()
        self.apps: dict[str, VendorApp] = {}
        for name, app in apps.items():
            self.apps[name] = app(self.clock, seed, self.scale, accepted.get(name))
        self.requests: dict[str, int] = {}
        # Seconds spent building responses, per vendor: benchmarks show the server's share.
        self.busy: dict[str, float] = {}

    def advance(self, seconds: int, changes: dict[str, dict[str, int]] | None = None) -> int:
        """Move the clock forward; datasets draw their changes (or take exact counts)."""
        with self.lock:
            old = self.clock.now()
            new = old + int(seconds)
            explicit = changes or {}
            for vendor, app in self.apps.items():
                for name, ds in app.datasets.items():
                    wanted = explicit.get(f"{vendor}.{name}")
                    if wanted is None:
                        ds.advance(old, new)
                    else:
                        rng = random.Random(mix(self.seed, name_code(name), old, new))
                        ds.apply(old, new, wanted.get("updated", 0), wanted.get("deleted", 0), rng)
            self.clock.set(new)
            return new

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        path = parts.path
        segments = path.split("/", 2)
        prefix = segments[1] if len(segments) > 1 else ""
        rest = "/" + segments[2] if len(segments) > 2 else "/"
        if prefix == CONTROL_PREFIX:
            return self.control(method, rest, body)
        app = self.apps.get(prefix)
        if app is None:
            return json_response({"error": f"no vendor at /{prefix}"}, 404)
        request = Request.build(method, rest, parts.query, headers, body)
        with self.lock:
            self.requests[prefix] = self.requests.get(prefix, 0) + 1
        fault = self.faults.active(prefix)
        if fault is not None:
            mode = fault["mode"]
            if mode == "outage":
                return app.outage(fault)
            if mode == "lockout":
                return app.lockout(fault)
            if mode == "rate_limit":
                return app.rate_limited(fault)
            if mode == "slow":
                time.sleep(float(fault.get("delay", 1.0)))
            elif mode == "empty":
                request.share = 0.0
            elif mode == "partial":
                request.share = float(fault.get("share", 0.5))
        if not app.authorized(request):
            return app.unauthorized(request)
        started = time.perf_counter()
        with self.lock:
            response = app.route(request)
            self.busy[prefix] = self.busy.get(prefix, 0.0) + time.perf_counter() - started
        if fault is not None and fault["mode"] == "malformed" and response.status == 200:
            response.body = response.body[: max(1, len(response.body) // 2)]
        if fault is not None and fault["mode"] == "drift" and response.status == 200:
            response.body = drift(response.body, fault, request.path)
        return response

    def control(self, method: str, path: str, body: bytes) -> Response:
        payload: dict[str, Any] = orjson.loads(body) if body else {}
        if path in ("/", "/state") and method == "GET":
            return json_response(self.state())
        if path == "/identity" and method == "GET":
            return json_response(self.identity())
        if path == "/advance" and method == "POST":
            seconds = payload.get("seconds", 0) + payload.get("days", 0) * 86_400
            now = self.advance(seconds, payload.get("changes"))
            return json_response({"now": now})
        if path == "/faults" and method == "POST":
            vendor = payload.pop("vendor")
            if vendor not in self.apps:
                return json_response({"error": f"unknown vendor {vendor!r}"}, 400)
            mode = payload.pop("mode", None)
            self.faults.set(vendor, mode, **payload)
            return json_response({"faults": self.faults.describe()})
        if path == "/credentials" and method == "POST":
            # A key rotated or revoked at the vendor: the old one is refused from now on.
            vendor = payload.get("vendor")
            if vendor not in self.apps:
                return json_response({"error": f"unknown vendor {vendor!r}"}, 400)
            with self.lock:
                self.apps[vendor].credentials = dict(payload.get("credentials") or {})
            return json_response({"vendor": vendor, "names": sorted(self.apps[vendor].credentials)})
        if path == "/reset-counters" and method == "POST":
            with self.lock:
                self.requests.clear()
                self.busy.clear()
                for app in self.apps.values():
                    app.served.clear()
            return json_response({"ok": True})
        return json_response({"error": f"unknown control {method} {path}"}, 404)

    def identity(self) -> dict[str, Any]:
        """Who these emulators are: where they run from, their process, seed and clock start.

        Cheap to ask (no dataset is counted): a checkout asks before it reuses emulators it
        finds on its port, and reuses only its own.
        """
        start = self.clock.start
        return {
            "service": SERVICE,
            "checkout": str(CHECKOUT),
            "pid": os.getpid(),
            "seed": self.seed,
            "start": start,
            "start_day": datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d"),
        }

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "identity": self.identity(),
                "now": self.clock.now(),
                "seed": self.seed,
                "faults": self.faults.describe(),
                "requests": dict(self.requests),
                "busy_seconds": {vendor: round(busy, 4) for vendor, busy in self.busy.items()},
                "served": {vendor: dict(app.served) for vendor, app in self.apps.items()},
                "datasets": {
                    f"{vendor}.{name}": {
                        "created": ds.count_at(self.clock.now()),
                        "deleted": len(ds.deleted),
                        "changes": len(ds.log),
                    }
                    for vendor, app in self.apps.items()
                    for name, ds in app.datasets.items()
                },
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    emulator: Emulator

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.emulator.handle(self.command, self.path, headers, body)
        except Exception as exc:  # an emulator bug must still answer, like a real 500
            response = json_response({"error": f"emulator failure: {exc!r}"}, 500)
        self._write(response)

    def _write(self, response: Response) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One write per response: headers and body leave in the same segment.
        self.wfile.write(head + response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EmulatorServer:
    """The emulator behind a real HTTP socket, in a background thread of this process."""

    def __init__(self, emulator: Emulator, host: str = DEFAULT_HOST, port: int = 0):
        handler = type("Handler", (_Handler,), {"emulator": emulator})
        self.emulator = emulator
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def parse_scale(items: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for item in items:
        key, _, value = item.partition("=")
        if "." not in key or not value.isdigit():
            raise SystemExit(
                f"--scale expects vendor.dataset=COUNT (e.g. stripe.charges=1000000), got {item!r}"
            )
        scale[key] = int(value)
    return scale


def parse_start(text: str) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-01, got {text!r}") from None
    return int(day.timestamp())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by `python -m emulators` and `lifeboat emulate`."""
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="VENDOR.DATASET=N",
        help="records existing at the start, e.g. stripe.charges=1000000 (repeatable)",
    )
    parser.add_argument(
        "--start",
        type=parse_start,
        default=EPOCH,
        metavar="YYYY-MM-DD",
        help="the emulated clock's first moment (UTC midnight); default 2026-01-01",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=DEMO_ENV,
        metavar="ENV_FILE",
        help="the keys the emulated vendors accept, as VENDOR_NAME=value lines "
        "(default: emulators/demo.env)",
    )


def serve(args: argparse.Namespace) -> int:
    """Serve every emulated vendor until interrupted."""
    try:
        accepted = by_vendor(read_env_file(args.credentials), vendor_apps())
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SystemExit(f"--credentials {args.credentials}: {reason}") from None
    emulator = Emulator(args.seed, parse_scale(args.scale), start=args.start, credentials=accepted)
    try:
        server = EmulatorServer(emulator, args.host, args.port)
    except OSError as exc:
        raise SystemExit(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}; choose another with --port"
        ) from None
    print(f"emulating {', '.join(emulator.apps)} at {server.url}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators", description=__doc__)
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
