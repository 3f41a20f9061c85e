"""What a stopped run leaves behind is put right by the next run, which says so once."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from emulators.control import EmulatorControl
from lifeboat.errors import CopyBusy, StorageError, VendorOutage
from pipelines.base import VendorContext
from pipelines.recovery import database_problem, sync_lock
from pipelines.restore import drill
from pipelines.runner import named_failure, sync, warehouse_path
from tests.keys import STRIPE_KEY

ROOT = Path(__file__).resolve().parents[2]
# A sync in a child process that SIGKILLs itself at a chosen point: `dlt.load.load.Load.
# complete_package` (the first load's rows are in the table, the load is not committed)
# or `pipelines.snapshot.write_snapshot` (the load committed, no snapshot taken).
CHILD = """
import os, signal, sys
from pathlib import Path
import dlt.load.load
import pipelines.runner
from pipelines.base import VendorContext
from tests.keys import STRIPE_KEY

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[3] == "load":
    dlt.load.load.Load.complete_package = die
else:
    pipelines.runner.write_snapshot = die
pipelines.runner.sync(VendorContext("stripe", sys.argv[1] + "/stripe", {"api_key": STRIPE_KEY},
                      datasets=("charges", "customers")), Path(sys.argv[2]))
"""


def _ctx(url: str) -> VendorContext:
    return VendorContext(
        "stripe", f"{url}/stripe", {"api_key": STRIPE_KEY}, datasets=("charges", "customers")
    )


def _killed_at(point: str, url: str, home: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(home), point], cwd=ROOT, capture_output=True
    )
    assert process.returncode == -9, process.stderr.decode()[-2000:]


def _rows(home: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path(home, "stripe")), read_only=True) as con:
        return con.execute(
            f"SELECT COLUMNS(lambda c: NOT starts_with(c, '_dlt')) FROM {table} ORDER BY ALL"
        ).fetchall()


def _told(caplog: pytest.LogCaptureFixture, about: str = "previous run") -> list[str]:
    return [r.getMessage() for r in caplog.records if about in r.getMessage()]


def test_a_first_load_killed_before_it_committed_is_finished_by_the_next_run(
    make_emulator, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_emulator({"stripe.charges": 3000})
    _killed_at("load", server.url, home)
    with caplog.at_level(logging.WARNING, logger="lifeboat.sync"):
        result = sync(_ctx(server.url), home)
    reference = make_emulator({"stripe.charges": 3000})
    clean = tmp_home(home, "clean")
    sync(_ctx(reference.url), clean)
    assert result.tables["charges"].rows_held == 3000
    assert _rows(home, "charges") == _rows(clean, "charges")
    assert _rows(home, "customers") == _rows(clean, "customers")
    (message,) = _told(caplog)
    assert "first load of" in message and "uncommitted rows were removed" in message
    assert drill(home, "stripe").ok
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lifeboat.sync"):
        sync(_ctx(server.url), home)
    assert _told(caplog) == []  # told once: nothing is left to recover


def test_a_load_whose_snapshot_never_ran_is_snapshotted_by_the_next_run(
    make_emulator, home: Path
) -> None:
    server = make_emulator({"stripe.charges": 2000})
    sync(_ctx(server.url), home)
    EmulatorControl(server.url).advance(days=1, changes={"stripe.charges": {"updated": 200}})
    _killed_at("snapshot", server.url, home)
    sync(_ctx(server.url), home)
    report = drill(home, "stripe")
    assert report.ok, report.summary()


def test_a_second_run_of_a_vendor_refuses_before_asking_the_vendor(
    emulator, control: EmulatorControl, home: Path
) -> None:
    before = control.requests("stripe")
    with sync_lock(home, "stripe"), pytest.raises(CopyBusy) as refused:
        sync(_ctx(emulator.url), home)
    assert control.requests("stripe") == before
    assert f"process {os.getpid()}" in str(refused.value)
    assert "another run is copying it now" in str(refused.value)
    sync(_ctx(emulator.url), home)  # the lock went with its holder


def test_a_truncated_duckdb_file_is_set_aside_and_rebuilt_from_the_snapshots(
    emulator, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync(_ctx(emulator.url), home)
    good = _rows(home, "charges")
    database = warehouse_path(home, "stripe")
    os.truncate(database, database.stat().st_size // 2)
    assert "cut short" in (database_problem(database) or "")
    with caplog.at_level(logging.WARNING, logger="lifeboat.sync"):
        sync(_ctx(emulator.url), home)
    assert _rows(home, "charges") == good
    (message,) = _told(caplog, "DuckDB file was damaged")
    assert "set aside as stripe.duckdb.damaged-" in message
    assert list(database.parent.glob("stripe.duckdb.damaged-*"))
    assert database_problem(database) is None


@pytest.mark.parametrize(
    ("raised", "named", "says"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), StorageError, "is full"),
        (OSError(errno.EROFS, "Read-only file system"), StorageError, "cannot be written"),
        (VendorOutage("stripe", "503"), VendorOutage, "outage"),
        (KeyError("a bug"), type(None), ""),
    ],
)
def test_a_failure_deep_in_dlt_is_named_in_one_sentence(
    home: Path, raised: BaseException, named: type, says: str
) -> None:
    try:
        try:
            raise raised
        except BaseException as inner:
            raise RuntimeError("Pipeline execution failed at stage load") from inner
    except RuntimeError as wrapped:
        found = named_failure(wrapped, "stripe", home)
    assert isinstance(found, named)
    assert says in str(found or "")
    assert "\n" not in str(found or "")


def tmp_home(home: Path, name: str) -> Path:
    other = home.parent / name
    other.mkdir()
    return other
