"""Stripe charges at scale: the floor, a full and an incremental sync, side by side.

All three read the same emulator (a separate process) in one run. The floor pages through
`/v1/charges` with a plain HTTP session and parses every page, storing nothing; it runs
before and after the full sync, and the ratios use the mean of the two. The syncs
run the real connector (dlt into DuckDB plus the Parquet snapshot) in a fresh process each,
so their peak memory is their own.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.results import record
from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials

ROOT = Path(__file__).resolve().parent.parent
KEY = demo_credentials(["stripe"])["stripe"]["api_key"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(records: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulators",
            "--port",
            str(port),
            "--scale",
            f"stripe.charges={records}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            EmulatorControl(url).state()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the emulator did not start within 30 s")


def floor(url: str) -> tuple[float, int]:
    """A bare client: page through every charge and parse each page, nothing else."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    started = time.perf_counter()
    after: str | None = None
    rows = 0
    while True:
        params: dict[str, Any] = {"limit": 100}
        if after:
            params["starting_after"] = after
        body = orjson.loads(session.get(f"{url}/stripe/v1/charges", params=params).content)
        rows += len(body["data"])
        if not body["has_more"]:
            break
        after = body["data"][-1]["id"]
    return time.perf_counter() - started, rows


CHILD = """
import json, resource, sys, time
from pathlib import Path
import tempfile
import dlt
import pyarrow as pa
import pipelines.stripe
from pipelines.base import VendorContext
from pipelines.runner import make_pipeline, sync
url, home, key = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
# Warm up: one tiny load through the same code paths, so the clock measures the sync and
# not the first-use costs of a fresh process (imports, generated classes), as for the floor.
with tempfile.TemporaryDirectory() as warm:
    @dlt.resource(name="warmup", primary_key="id", write_disposition="merge")
    def warmup():
        yield pa.table({"id": [1], "_changed_at": [1]})
    make_pipeline("warmup", Path(warm)).run(warmup(), loader_file_format="parquet")
ctx = VendorContext("stripe", url + "/stripe", {"api_key": key}, datasets=("charges",))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = sync(ctx, home)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
table = result.tables["charges"]
print(json.dumps({"seconds": seconds, "rows_loaded": table.rows_loaded,
                  "rows_held": table.rows_held, "rss_before_mb": before / 1024,
                  "peak_rss_mb": peak / 1024}))
"""


def run_sync(url: str, home: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(home), KEY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"sync failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--changed", type=float, default=0.001, help="share changed before the incremental sync"
    )
    args = parser.parse_args(argv)

    process, url = start_emulator(args.records)
    try:
        with tempfile.TemporaryDirectory(prefix="lifeboat-bench-") as tmp:
            print(f"stripe charges: {args.records:,} records served by the emulator at {url}")
            control = EmulatorControl(url)
            control.reset_counters()
            floor_seconds, floor_rows = floor(url)
            floor_first = floor_seconds
            server_seconds = control.state()["busy_seconds"]["stripe"]
            print(
                f"  floor        {floor_seconds:8.2f} s  ({floor_rows:,} records paged and parsed)"
            )
            print(
                f"  emulator     {server_seconds:8.2f} s  building those pages "
                f"({server_seconds / floor_seconds:.0%} of the floor)"
            )
            full = run_sync(url, Path(tmp))
            # The floor again, right after: a machine whose speed drifts during the run shows
            # as two different floors, and the ratio uses their mean.
            floor_again, _ = floor(url)
            print(f"  floor again  {floor_again:8.2f} s  (after the full sync)")
            floor_seconds = (floor_seconds + floor_again) / 2
            print(
                f"  full sync    {full['seconds']:8.2f} s  "
                f"{full['seconds'] / floor_seconds:5.2f}x floor (mean of the two)"
                f"  ({full['rows_loaded']:,} rows, peak {full['peak_rss_mb']:.0f} MB)"
            )
            changed = int(args.records * args.changed)
            control.advance(seconds=3600, changes={"stripe.charges": {"updated": changed}})
            incremental = run_sync(url, Path(tmp))
            print(
                f"  incremental  {incremental['seconds']:8.2f} s  "
                f"{incremental['seconds'] / floor_seconds:5.2f}x floor  "
                f"{incremental['seconds'] / full['seconds']:6.1%} of full"
                f"  ({incremental['rows_loaded']:,} rows after {changed:,} changed)"
            )
    finally:
        process.terminate()
        process.wait(timeout=10)

    figures = {
        "stripe_records": args.records,
        "stripe_floor_seconds": round(floor_seconds, 3),
        "stripe_floor_spread_seconds": round(abs(floor_again - floor_first), 3),
        "stripe_emulator_busy_seconds_during_floor": round(server_seconds, 3),
        "stripe_full_sync_seconds": round(full["seconds"], 3),
        "stripe_full_sync_ratio_to_floor": round(full["seconds"] / floor_seconds, 3),
        "stripe_incremental_sync_seconds": round(incremental["seconds"], 3),
        "stripe_incremental_sync_ratio_to_floor": round(incremental["seconds"] / floor_seconds, 3),
        "stripe_incremental_share_of_full": round(incremental["seconds"] / full["seconds"], 4),
        "stripe_incremental_rows_loaded": incremental["rows_loaded"],
        "stripe_full_sync_peak_rss_mb": round(full["peak_rss_mb"], 1),
        "stripe_incremental_sync_peak_rss_mb": round(incremental["peak_rss_mb"], 1),
        "stripe_sync_process_baseline_rss_mb": round(full["rss_before_mb"], 1),
    }
    path = record(figures)
    print(
        f"  peak memory of the full sync: {full['peak_rss_mb']:.0f} MB "
        f"(of which {full['rss_before_mb']:.0f} MB before it started)"
    )
    print(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
