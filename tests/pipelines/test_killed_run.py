"""A run killed with SIGKILL leaves the last good copy; the next run loses and doubles nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from pipelines.base import VendorContext
from pipelines.runner import sync, warehouse_path
from tests.keys import STRIPE_KEY

CHILD = """
import sys
from pathlib import Path
from pipelines.base import VendorContext
from pipelines.runner import sync
from tests.keys import STRIPE_KEY
sync(VendorContext("stripe", sys.argv[1] + "/stripe", {"api_key": STRIPE_KEY},
                   datasets=("charges",)), Path(sys.argv[2]))
"""
ROOT = Path(__file__).resolve().parents[2]


def charges(home: Path) -> list[tuple[str, int]]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute("SELECT id, amount_refunded FROM charges ORDER BY id").fetchall()


def kill_when(process: subprocess.Popen, ready, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.005)
    pytest.fail("the sync finished before it could be killed")


@pytest.mark.parametrize("moment", ["extracting", "loading"])
def test_killed_sync_then_rerun_has_every_record_once(make_emulator, home: Path, moment) -> None:
    server = make_emulator({"stripe.charges": 30_000})
    control = EmulatorControl(server.url)
    ctx = VendorContext(
        "stripe", f"{server.url}/stripe", {"api_key": STRIPE_KEY}, datasets=("charges",)
    )
    sync(ctx, home)
    good = charges(home)
    control.advance(days=2, changes={"stripe.charges": {"updated": 500}})
    expected_total = control.state()["datasets"]["stripe.charges"]["created"]

    process = subprocess.Popen([sys.executable, "-c", CHILD, server.url, str(home)], cwd=ROOT)
    packages = home / "dlt" / "lifeboat_stripe" / "load" / "normalized"
    if moment == "extracting":
        start = control.state()["requests"]["stripe"]
        kill_when(process, lambda: control.state()["requests"]["stripe"] > start + 3)
    else:
        kill_when(process, lambda: packages.exists() and any(packages.iterdir()))
    # The last good copy is intact: either untouched, or (if the kill came after dlt's load
    # committed) already the new one; never a mix, never fewer records.
    after_kill = charges(home)
    assert after_kill == good or len(after_kill) == expected_total

    sync(ctx, home)
    final = charges(home)
    ids = [charge_id for charge_id, _ in final]
    assert len(ids) == len(set(ids)) == expected_total
    assert sum(1 for _, refunded in final if refunded) >= 500
