"""Every failure of a `lifeboat` command reaches a person as one message and its exit code."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from emulators.control import EmulatorControl
from emulators.server import EmulatorServer
from lifeboat import cli, telling
from lifeboat.config import inventory
from lifeboat.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FOUND_PROBLEM,
    EXIT_INTERRUPTED,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    ConfigError,
    EmulatorsDown,
    LifeboatError,
    StorageError,
    VendorLockout,
    VendorOutage,
)
from lifeboat.instance import PROJECT_ROOT
from replication.errors import ReplicationError
from tests.faults.harness import ReadOnly, sentence_problem
from tests.keys import STRIPE_KEY

LIFEBOAT = Path(sys.executable).parent / "lifeboat"
# What the README says turns --debug on from the environment.
DEBUG_ENV = "LIFEBOAT_DEBUG"
# A progress line of a sync (lifeboat's logger on stderr): its time first.
PROGRESS = re.compile(r"^\d\d:\d\d:\d\d ")
# How often a waiting test looks again.
POLL_SECONDS = 0.05
# Another program with a DuckDB file open for writing, until its stdin closes.
HOLD = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); input()"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(tmp_path: Path, base_url: str, emulator_port: int | None = None) -> Path:
    """An inventory of Stripe alone at `base_url`; `emulator:` on `emulator_port` if given."""
    config = tmp_path / "lifeboat.yaml"
    emulator = f"emulator: {{host: 127.0.0.1, port: {emulator_port}}}\n" if emulator_port else ""
    config.write_text(
        f"{emulator}vendors:\n"
        f"  stripe:\n    base_url: {base_url}\n    credentials: {{api_key: STRIPE_API_KEY}}\n"
    )
    return config


@pytest.fixture
def stripe(
    emulator: EmulatorServer, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatorControl]:
    """Stripe at the test's emulator, its key set, its inventory the test's own."""
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(_config(tmp_path, f"{emulator.url}/stripe")))
    monkeypatch.setenv("STRIPE_API_KEY", STRIPE_KEY)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    inventory.cache_clear()
    yield EmulatorControl(emulator.url)
    inventory.cache_clear()


@pytest.fixture
def held(home: Path) -> Iterator[Path]:
    """Stripe's DuckDB file held open for writing by another program (a DuckDB shell)."""
    database = home / "warehouse" / "stripe.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "held\n"
    yield database
    holder.stdin.close()
    holder.wait(timeout=30)


@pytest.fixture
def copied(stripe: EmulatorControl, capsys: pytest.CaptureFixture[str]) -> EmulatorControl:
    """Stripe copied once, with what the copy printed read away."""
    assert cli.main(["sync", "stripe"]) == 0
    capsys.readouterr()
    return stripe


def _told(argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `lifeboat argv`: it ends with `code` and one message on stderr, no traceback."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if not PROGRESS.match(line)]
    assert len(said) == 1, err
    assert said[0].startswith("lifeboat: ")
    return said[0].removeprefix("lifeboat: ")


def test_a_lockout_is_told_as_dagster_tells_it(
    copied: EmulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    copied.fault("stripe", "lockout")

    message = _told(["sync", "stripe"], VendorLockout.exit_code, capsys)

    assert sentence_problem(message) is None
    assert message.startswith("Stripe rejected the API key (401): ")
    assert "your copy of 200 customers" in message and "is intact" in message
    assert "check the API key in STRIPE_API_KEY" in message
    assert STRIPE_KEY not in message


def test_an_outage_is_told_in_one_sentence(
    stripe: EmulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    stripe.fault("stripe", "outage")

    message = _told(["sync", "stripe"], VendorOutage.exit_code, capsys)

    assert sentence_problem(message) is None
    assert message.startswith("Stripe is not answering (503): its service looks down; ")
    assert "there is no copy of Stripe yet" in message


def test_a_read_only_home_is_told_and_loses_nothing(
    copied: EmulatorControl, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = home / "warehouse" / "stripe.duckdb"
    before = database.read_bytes()
    copied.advance(days=1)
    mounts = ReadOnly()
    mounts.freeze(home)
    try:
        message = _told(["sync", "stripe"], StorageError.exit_code, capsys)
    finally:
        mounts.thaw()

    assert sentence_problem(message) is None
    assert "cannot be written" in message and "nothing already copied was lost" in message
    assert database.read_bytes() == before


def _boom(*_: object, **__: object) -> None:
    raise RuntimeError("the copy tripped over\nits own feet")


def test_an_unexpected_error_is_one_line_that_names_it(
    stripe: EmulatorControl, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("pipelines.runner.sync", _boom)

    message = _told(["sync", "stripe"], EXIT_UNEXPECTED, capsys)

    assert message.startswith("unexpected error (RuntimeError: the copy tripped over its own feet)")
    assert message.endswith("run again with --debug for the traceback")


@pytest.mark.parametrize("how", ["--debug", DEBUG_ENV])
def test_debug_prints_the_traceback_too(
    how: str,
    stripe: EmulatorControl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("pipelines.runner.sync", _boom)
    argv = ["sync", "stripe"]
    if how == "--debug":
        argv.insert(0, "--debug")
    else:
        monkeypatch.setenv(DEBUG_ENV, "1")

    assert cli.main(argv) == EXIT_UNEXPECTED

    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert 'raise RuntimeError("the copy tripped over' in err
    assert err.rstrip().splitlines()[-1].startswith("lifeboat: unexpected error (RuntimeError")


def test_debug_also_traces_a_named_failure(
    stripe: EmulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    stripe.fault("stripe", "lockout")
    assert cli.main(["--debug", "sync", "stripe"]) == VendorLockout.exit_code
    err = capsys.readouterr().err
    assert "Traceback" in err and "VendorLockout" in err


def _interrupt(*_: object, **__: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_is_one_line_and_exit_130(
    stripe: EmulatorControl, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("pipelines.runner.sync", _interrupt)
    message = _told(["sync", "stripe"], EXIT_INTERRUPTED, capsys)
    assert message.startswith("interrupted (Ctrl-C); nothing already copied was lost")


def test_ctrl_c_in_the_middle_of_a_real_sync(
    emulator: EmulatorServer, home: Path, tmp_path: Path
) -> None:
    """dlt wraps the KeyboardInterrupt of a Ctrl-C in its own error: still one line, 130."""
    control = EmulatorControl(emulator.url)
    control.fault("stripe", "slow", delay=1.0)
    env = {
        **os.environ,
        "LIFEBOAT_HOME": str(home),
        "LIFEBOAT_CONFIG": str(_config(tmp_path, f"{emulator.url}/stripe")),
        "STRIPE_API_KEY": STRIPE_KEY,
    }
    env.pop(DEBUG_ENV, None)
    process = subprocess.Popen(
        [str(LIFEBOAT), "sync", "stripe"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Where this runs in the background, SIGINT starts ignored; a terminal's is not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while control.requests("stripe") < 2:  # a page served: the listing is under way
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(POLL_SECONDS)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if not PROGRESS.match(line)]
    assert said == [
        "lifeboat: interrupted (Ctrl-C); nothing already copied was lost, and the next run "
        "puts right what this one left"
    ]


def test_a_missing_key_for_a_real_vendor_is_refused(
    emulator: EmulatorServer,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The emulators lifeboat.yaml names are elsewhere: Stripe here is a vendor like any."""
    config = _config(tmp_path, f"{emulator.url}/stripe", emulator_port=_free_port())
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(config))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    inventory.cache_clear()
    try:
        message = _told(["sync", "stripe"], ConfigError.exit_code, capsys)
    finally:
        inventory.cache_clear()
    assert message.startswith("stripe: environment variable STRIPE_API_KEY is not set")
    assert EmulatorControl(emulator.url).requests("stripe") == 0


def test_the_emulators_demo_key_is_used_and_said(
    emulator: EmulatorServer,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After `make demo`: the key is not set, and Stripe is at the emulators lifeboat.yaml names."""
    port = int(emulator.url.rsplit(":", 1)[1])
    monkeypatch.setenv(
        "LIFEBOAT_CONFIG", str(_config(tmp_path, f"{emulator.url}/stripe", emulator_port=port))
    )
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    inventory.cache_clear()
    try:
        assert cli.main(["sync", "stripe"]) == 0
    finally:
        inventory.cache_clear()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"stripe: STRIPE_API_KEY is not set and stripe points at the local emulators "
        f"(127.0.0.1:{port}): using their demo key from emulators/demo.env"
    )
    assert "stripe/charges: 2,000 loaded, 2,000 held" in out
    assert "STRIPE_API_KEY" not in os.environ


def test_emulators_that_are_not_running_are_named(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    port = _free_port()
    config = _config(tmp_path, f"http://127.0.0.1:{port}/stripe", emulator_port=port)
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(config))
    inventory.cache_clear()
    try:
        message = _told(["sync", "stripe"], EmulatorsDown.exit_code, capsys)
    finally:
        inventory.cache_clear()
    assert sentence_problem(message) is None
    assert f"at the local emulators (127.0.0.1:{port}) and nothing answers there" in message
    assert f"`lifeboat emulate --port {port} --start 20" in message


def test_one_vendors_failure_does_not_stop_the_others(
    emulator: EmulatorServer,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "lifeboat.yaml"
    config.write_text(
        f"vendors:\n  stripe:\n    base_url: {emulator.url}/stripe\n"
        f"  hubspot:\n    base_url: {emulator.url}/hubspot\n"
    )
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(config))
    monkeypatch.setenv("STRIPE_API_KEY", STRIPE_KEY)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    inventory.cache_clear()
    try:
        code = cli.main(["sync", "hubspot", "stripe"])
    finally:
        inventory.cache_clear()
    out, err = capsys.readouterr()
    assert code == ConfigError.exit_code
    assert [line for line in err.splitlines() if line.startswith("lifeboat: ")] == [
        f"lifeboat: hubspot: environment variable HUBSPOT_ACCESS_TOKEN is not set "
        f"(credentials.access_token in {config}); export it, then run again"
    ]
    assert "stripe/charges: 2,000 loaded, 2,000 held" in out


def test_asof_before_the_copy_began_says_when_it_begins(
    copied: EmulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["asof", "stripe", "charges", "2020-01-01T00:00"]) == 0

    (line,) = capsys.readouterr().out.splitlines()
    assert sentence_problem(line) is None
    assert line.startswith(
        "nothing was held at 2020-01-01 00:00 UTC: the copy's history of stripe charges starts "
    )
    suggested = re.search(r"`lifeboat (asof stripe charges \S+)`$", line)
    assert suggested, line
    assert cli.main([*suggested.group(1).split(), "--limit", "1"]) == 0
    assert "1 rows" in capsys.readouterr().out


def test_every_exit_code_has_one_meaning_and_help_lists_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pairs = [
        *telling.OTHER_EXITS.items(),
        *telling.declared_exits(),
        *telling.replication_cli.EXIT_CODES.values(),
    ]
    meanings: dict[int, set[str]] = {}
    for code, meaning in pairs:
        meanings.setdefault(code, set()).add(meaning)
    assert {code: m for code, m in meanings.items() if len(m) > 1} == {}
    assert telling.exit_codes()[EXIT_USAGE].startswith("usage")
    assert all(0 <= code <= 255 for code in meanings)

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    help_text = capsys.readouterr().out
    for code in meanings:
        assert re.search(rf"^  {code}\s+\S", help_text, re.MULTILINE), code


def test_a_replication_failure_exits_with_its_own_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIFEBOAT_HOME", str(tmp_path))
    monkeypatch.delenv("LIFEBOAT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no lifeboat.yaml here: no topology
    message = _told(["ls"], ConfigError.exit_code, capsys)
    assert "lifeboat sandbox up" in message


def test_restore_into_a_path_that_cannot_be_a_directory(
    copied: EmulatorControl, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    message = _told(
        ["restore", "stripe", "--to", str(blocker / "inside")], StorageError.exit_code, capsys
    )
    assert message.startswith(f"cannot restore into {blocker / 'inside'}: not a directory;")
    assert blocker.read_text() == "keep me"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:1/stripe")
    process = subprocess.Popen(
        [str(LIFEBOAT), "check-config", str(config)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # long before the command has imported what it needs
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_BROKEN_PIPE, err
    assert err == b""


def test_a_copy_another_program_holds_is_named_by_asof_and_doctor(
    copied: EmulatorControl, held: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = _told(["asof", "stripe", "charges", "2030-01-01"], StorageError.exit_code, capsys)
    assert message.startswith("stripe: another program has its DuckDB file open")

    assert cli.main(["doctor", "stripe"]) == EXIT_FOUND_PROBLEM
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert out.strip() == (
        "Stripe: not checked: another program has its DuckDB file open (a DuckDB shell, a "
        "notebook, a BI tool); nothing already copied was lost; close it there, or open the "
        "file read-only, and run again"
    )


def test_emulators_on_a_port_in_use_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = _told(["emulate", "--port", str(port)], LifeboatError.exit_code, capsys)
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}: ")


def test_a_raw_mysql_error_is_a_sentence_with_the_mysql_code() -> None:
    error = pymysql.err.OperationalError(2013, "Lost connection to server during query")
    text, code = telling.describe(error, "switch")
    assert text == (
        "a MySQL server answered (2013) Lost connection to server during query; see the "
        "servers' state with `lifeboat ls` before trying again"
    )
    assert code == telling.replication_cli.EXIT_CODES[ReplicationError][0]
