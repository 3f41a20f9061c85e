"""A command given a path it cannot use says so in one line, with no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifeboat import cli
from lifeboat.config import inventory
from pipelines.base import VendorContext
from pipelines.runner import sync
from tests.keys import STRIPE_KEY


@pytest.fixture
def copied(make_emulator, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    server = make_emulator({"stripe.charges": 200})
    sync(VendorContext("stripe", f"{server.url}/stripe", {"api_key": STRIPE_KEY}), home)
    config = tmp_path / "lifeboat.yaml"
    config.write_text(f"vendors:\n  stripe:\n    base_url: {server.url}/stripe\n")
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(config))
    inventory.cache_clear()
    yield home
    inventory.cache_clear()


def _refused(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    (line,) = err.splitlines()
    return line


def test_restore_into_a_file_is_refused(
    copied: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("keep me")
    line = _refused(["restore", "stripe", "--to", str(taken)], capsys)
    assert line.startswith(f"lifeboat: {taken} is a file, not a directory;")
    assert taken.read_text() == "keep me"


def test_asof_into_a_missing_directory_is_refused(
    copied: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    target = tmp_path / "nowhere" / "x.csv"
    line = _refused(["asof", "stripe", "charges", "2030-01-01T00:00", "--csv", str(target)], capsys)
    assert f"the directory {target.parent} does not exist" in line
