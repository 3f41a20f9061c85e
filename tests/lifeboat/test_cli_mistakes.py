"""A command given a path or a file it cannot use says so in one line, with no traceback,
and ends with the exit code of that kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifeboat import cli
from lifeboat.config import inventory
from lifeboat.errors import ConfigError, LifeboatError
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


def _refused(
    argv: list[str], capsys: pytest.CaptureFixture, code: int = LifeboatError.exit_code
) -> str:
    assert cli.main(argv) == code
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


def test_a_binary_inventory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "lifeboat.yaml"
    config.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    line = _refused(["check-config", str(config)], capsys, ConfigError.exit_code)
    assert line.startswith(f"lifeboat: {config}: not valid text at byte ")


def test_an_rpo_beyond_any_calendar_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "lifeboat.yaml"
    config.write_text("vendors:\n  stripe:\n    rpo: 99999999999999w\n")
    assert cli.main(["check-config", str(config)]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"lifeboat: {config}: invalid inventory:\n  vendors.stripe.rpo: ")
