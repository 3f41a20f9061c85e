"""A vendor file held by another process is left out of the report, said in plain words."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lifeboat.continuity.catalog import open_catalog
from lifeboat.paths import DataHome

HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
    "print('held', flush=True); time.sleep(60)"
)


def test_a_file_another_process_holds_is_named_without_duckdb_internals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = DataHome(tmp_path).warehouse("stripe")
    path.parent.mkdir(parents=True)
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        unreadable: list[str] = []
        with caplog.at_level(logging.WARNING):
            open_catalog(tmp_path, unreadable).close()
    finally:
        holder.kill()
        holder.wait()
    assert unreadable == ["stripe"]
    said = " ".join(record.getMessage() for record in caplog.records)
    assert "a copy is writing it now, or another program has it open" in said
    assert "IO Error" not in said and "lock" not in said
