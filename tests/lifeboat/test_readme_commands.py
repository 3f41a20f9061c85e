"""Each command of README.md's command tables, run as written, in a data home of its own.

The tables are read from README.md itself (`| command | what it does |`), so a command the
README gives and the CLI lost, or one that prints a traceback, fails here. Each row runs as a
newcomer types it, with what a test must change and nothing else:

- the shipped lifeboat.yaml is copied with its emulator port (8765) moved to a free one, and
  `make ui` gets a free PORT (8765 and 3000 may belong to a person's own demo);
- placeholders get values (VENDOR stripe, TABLE charges, DIR and FILE under the test's
  directory, SERVER a replica of the moment); a command with optional parts runs twice,
  without them and with them;
- no vendor key is set, as after a fresh clone: the emulators' demo keys are what they accept.

`make test`, `make bench`, `make lint` and `make mutants` are not run from here: `make test`
is this suite itself, `make bench` and `make mutants` take minutes, and `make lint` checks
the source, not a lifeboat a person runs (its import layers are tests/test_layers.py); for
them the Makefile target is checked to exist.
Long-running commands (`make ui`, `lifeboat emulate`) are started, asked a question over
HTTP, and stopped with Ctrl-C, as a person stops them. The rows share one data home and run
in the order a newcomer would (demo first); each row that needs a copy or the MySQL sandbox
makes one itself when run alone (`-k`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
import pytest

from emulators.credentials import read_env_file
from lifeboat import telling
from lifeboat.instance import DEMO_ENV, PROJECT_ROOT
from replication import cli as replication_cli
from replication.connector.control import ConnectorSessions, start_background, stop_registered
from replication.errors import SwitchRefused
from replication.sandbox import Sandbox

README = PROJECT_ROOT / "README.md"
LIFEBOAT = Path(sys.executable).parent / "lifeboat"
COMMAND_TABLE = "| command | what it does |"
EXIT_TABLE = "| code | meaning |"
SHIPPED_EMULATOR_PORT = "8765"
DEBUG_ENV = "LIFEBOAT_DEBUG"
# Commands this test does not run, and why (their Makefile target is checked to exist).
NOT_RUN = {
    "make test": "the test suite itself: running it from inside it would never end",
    "make bench": "minutes long (1,000,000 charges); `make bench` is run on its own",
    "make lint": "it checks the source, not a running lifeboat (layers: tests/test_layers.py)",
    "make mutants": "it runs the tests against each of its mutants: some thirteen minutes",
}
# How long a command may take before the row fails (a demo copies every vendor).
RUN_SECONDS = 600
# How long a server may take to answer after it is started.
START_SECONDS = 300
POLL_SECONDS = 0.2
LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells (a `\\|` inside a cell is a pipe, not a border)."""
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def _table(header: str) -> Iterator[list[str]]:
    """The rows of every README table whose header row is `header`."""
    inside = False
    for line in README.read_text().splitlines():
        if line.strip() == header:
            inside = True
        elif inside and line.startswith("|"):
            cells = _cells(line)
            if not set("".join(cells)) <= {"-", " "}:
                yield cells
        else:
            inside = False


def readme_commands() -> list[str]:
    """Every command the README's command tables give, as written (`a|b` gives two)."""
    commands: list[str] = []
    for cells in _table(COMMAND_TABLE):
        for written in re.findall(r"`([^`]+)`", cells[0]):
            words = written.split()
            choice = next((i for i, word in enumerate(words) if "|" in word), None)
            if choice is None:
                commands.append(written)
            else:
                for option in words[choice].split("|"):
                    commands.append(" ".join([*words[:choice], option, *words[choice + 1 :]]))
    return commands


def _kind(command: str) -> str:
    """The runner's key for `command`: its words up to the first argument."""
    words = command.removeprefix(".venv/bin/").split()
    keys = sorted(RUNNERS, key=len, reverse=True)
    return next((key for key in keys if words[: len(key.split())] == key.split()), command)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class World:
    """One data home, its inventory on a free emulator port, and what the rows left running."""

    root: Path
    emulator_port: int = field(default_factory=_free_port)
    ui_port: int = field(default_factory=_free_port)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def config(self) -> Path:
        return self.root / "lifeboat.yaml"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in read_env_file(DEMO_ENV)}
        for name in (DEBUG_ENV, "DAGSTER_HOME", "MAKEFLAGS", "MAKELEVEL"):
            env.pop(name, None)
        return env | {"LIFEBOAT_HOME": str(self.home), "LIFEBOAT_CONFIG": str(self.config)}

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a command to its end; whatever it says, it never prints a traceback."""
        done = subprocess.run(
            argv,
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
            stdin=subprocess.DEVNULL,  # no terminal: nothing may wait for an answer
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        return done

    def start(self, argv: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        """A long-running command in a session of its own; its output goes to a file."""
        log = self.root / f"{argv[1]}-{time.monotonic_ns()}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # In the background SIGINT may start ignored; a terminal's Ctrl-C is not.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        return process, log

    @contextmanager
    def emulators(self) -> Iterator[None]:
        """The emulators at the inventory's address, started as a person is told to."""
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        argv = [str(LIFEBOAT), "emulate", "--port", str(self.emulator_port), "--start", today]
        process, log = self.start(argv)
        try:
            _wait(lambda: _stripe_answers(self.emulator_port), process, log)
            yield
        finally:
            _ctrl_c(process)

    def ensure_copy(self) -> None:
        if not (self.home / "warehouse" / "stripe.duckdb").exists():
            with self.emulators():
                done = self.run([str(LIFEBOAT), "sync", "stripe"])
            assert done.returncode == 0, done.stderr

    def ensure_sandbox(self) -> None:
        if self.run([str(LIFEBOAT), "sandbox", "status"]).returncode != 0:
            done = self.run([str(LIFEBOAT), "sandbox", "up"])
            assert done.returncode == 0, done.stdout + done.stderr

    def replica(self) -> str:
        """A server that is a replica now (`switch --to SERVER`)."""
        listing = self.run([str(LIFEBOAT), "ls"]).stdout.splitlines()
        return next(line.split()[0] for line in listing[1:] if line.split()[1:2] == ["replica"])


def _wait(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        assert process.poll() is None, f"it stopped (exit {process.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no answer in {START_SECONDS}s:\n{log.read_text()}"
        time.sleep(POLL_SECONDS)


def _ctrl_c(process: subprocess.Popen[bytes]) -> int | None:
    """Ctrl-C to the whole process group, as a terminal sends it; its exit code, or None."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None


def _get(url: str, headers: dict[str, str] | None = None) -> dict | None:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=5
        ) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def _stripe_answers(port: int) -> bool:
    key = read_env_file(DEMO_ENV)["STRIPE_API_KEY"]
    body = _get(
        f"http://127.0.0.1:{port}/stripe/v1/charges?limit=1", {"Authorization": f"Bearer {key}"}
    )
    return bool(body and body.get("data"))


def _ui_loaded(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": LOCATION_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return False
    entries = body["data"]["workspaceOrError"].get("locationEntries") or []
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def concrete(command: str, world: World, optional: bool = True) -> list[str]:
    """The command line to run for `command` as written, its optional parts given or not."""
    text = re.sub(r"\[([^\]]*)\]", r"\1" if optional else "", command)
    words = shlex.split(text.replace(SHIPPED_EMULATOR_PORT, str(world.emulator_port)))
    if words[0] in (".venv/bin/lifeboat", "lifeboat"):
        words[0] = str(LIFEBOAT)
    if words[:2] == ["make", "ui"]:
        words = [*(w for w in words if not w.startswith("PORT=")), f"PORT={world.ui_port}"]
    subcommand = words[1] if len(words) > 1 else ""
    values = {
        "VENDOR...": "stripe",
        "VENDOR": "stripe",
        "TABLE": "charges",
        # A minute from now: after the copy the rows before made.
        "TIME": (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "FILE": str(world.config if subcommand == "check-config" else world.root / "asof.csv"),
        "DIR": str(world.root / f"restored-{time.monotonic_ns()}"),
    }
    if "SERVER" in words:
        values["SERVER"] = world.replica()
    words = [values.get(word, word) for word in words]
    unknown = [w for w in words if re.fullmatch(r"[A-Z][A-Z_.]+", w)]
    assert not unknown, f"the README's {command!r} has placeholders this test cannot fill"
    return words


def variants(command: str, world: World) -> Iterator[list[str]]:
    """`command` without its optional parts, then with them (once if it has none)."""
    yield concrete(command, world, optional=False)
    if "[" in command:
        yield concrete(command, world, optional=True)


def _said_once(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("lifeboat: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


# --- what each row must do ------------------------------------------------------------------


def _make_target(argv: list[str], world: World) -> None:
    target = argv[1]
    done = world.run(["make", "-n", target])
    assert done.returncode == 0, f"`make {target}` has no target: {done.stderr}"


def _check_config(argv: list[str], world: World) -> None:
    done = world.run(argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{world.config}: valid; vendors enabled: stripe, "), done.stdout


def _emulate(argv: list[str], world: World) -> None:
    process, log = world.start(argv)
    try:
        _wait(lambda: _stripe_answers(world.emulator_port), process, log)
    finally:
        code = _ctrl_c(process)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
    assert f"at http://127.0.0.1:{world.emulator_port}" in log.read_text()


def _make_demo(argv: list[str], world: World) -> None:
    done = world.run(argv)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "restore drill: 20 of 20 datasets restore" in done.stdout
    assert "healthy: primary" in done.stdout


def _make_outage(argv: list[str], world: World) -> None:
    done = world.run(argv)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (world.home / "scenarios" / "outage").is_dir()


def _status(argv: list[str], world: World) -> None:
    world.ensure_copy()
    done = world.run(argv)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^Stripe\s+charges\s+[\d,]+", done.stdout, re.MULTILINE), done.stdout


def _report(argv: list[str], world: World) -> None:
    world.ensure_copy()
    done = world.run(argv)
    assert done.returncode == 0, done.stderr
    assert (world.home / "continuity" / "report.html").is_file()


def _doctor(argv: list[str], world: World) -> None:
    world.ensure_copy()
    done = world.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Stripe: healthy"), done.stdout
    assert all(": healthy (" in line for line in done.stdout.splitlines()), done.stdout


def _asof(argv: list[str], world: World) -> None:
    world.ensure_copy()
    done = world.run(argv)
    assert done.returncode == 0, done.stderr
    if "--csv" in argv:
        assert re.match(r"[\d,]+ rows as of .* written to ", done.stdout), done.stdout
        assert (world.root / "asof.csv").read_text().startswith("id,")
    else:
        assert re.search(r"^\s*20 rows", done.stdout, re.MULTILINE), done.stdout


def _restore(argv: list[str], world: World) -> None:
    world.ensure_copy()
    done = world.run(argv)
    assert done.returncode == 0, done.stderr
    assert (Path(argv[argv.index("--to") + 1]) / "stripe.duckdb").is_file()


def _sync(argv: list[str], world: World) -> None:
    with world.emulators():
        done = world.run(argv)
    assert done.returncode == 0, done.stderr
    assert (
        "stripe: STRIPE_API_KEY is not set" in done.stdout and "using their demo key" in done.stdout
    )
    assert re.search(r"^stripe/charges: [\d,]+ loaded", done.stdout, re.MULTILINE), done.stdout


def _make_ui(argv: list[str], world: World) -> None:
    process, log = world.start(argv)
    try:
        _wait(lambda: _ui_loaded(world.ui_port), process, log)
        assert _stripe_answers(world.emulator_port), "`make ui` started no emulators"
    finally:
        stopped = _ctrl_c(process)
    assert stopped is not None, f"`make ui` did not stop on Ctrl-C:\n{log.read_text()}"
    assert "Traceback" not in log.read_text(), log.read_text()
    assert not _stripe_answers(world.emulator_port), "the emulators outlived `make ui`"


def _sandbox_status(argv: list[str], world: World) -> None:
    world.ensure_sandbox()
    done = world.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["alpha", "beta", "gamma"]


def _ls(argv: list[str], world: World) -> None:
    world.ensure_sandbox()
    done = world.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "healthy: primary" in done.stdout


def _connector(argv: list[str], world: World) -> None:
    """Served in the foreground: an application reaches the primary through it; Ctrl-C ends it."""
    world.ensure_sandbox()
    stop_registered(world.home)  # the one `make demo` left in the background
    process, log = world.start(argv)
    try:
        _wait(lambda: bool(ConnectorSessions(world.home).registrations()), process, log)
        (registration,) = ConnectorSessions(world.home).registrations()
        host, port = registration.writer.rsplit(":", 1)
        sandbox = Sandbox(world.home / "sandbox")
        app = sandbox.account("app")
        conn = pymysql.connect(host=host, port=int(port), user=app.user, password=app.password)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT @@read_only")
            assert cur.fetchone()[0] == 0, "the writer port reached a read-only server"
    finally:
        code = _ctrl_c(process)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
    assert "lifeboat connector: writer " in log.read_text()
    assert not ConnectorSessions(world.home).registrations()


def _connector_status(argv: list[str], world: World) -> None:
    world.ensure_sandbox()
    start_background(
        world.home, [str(LIFEBOAT), "connector", "--sandbox"], world.root / "connector.log"
    )
    done = world.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.match(r"connector pid \d+: writer 127\.0\.0\.1:\d+ -> \w+", done.stdout), done.stdout


def _switch(argv: list[str], world: World) -> None:
    world.ensure_sandbox()
    done = world.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WAS SUCCESSFUL" in done.stdout


def _failover(argv: list[str], world: World) -> None:
    """With the primary alive, a failover is refused: a reason, its code, nothing changed."""
    world.ensure_sandbox()
    done = world.run(argv)
    assert done.returncode == replication_cli.EXIT_CODES[SwitchRefused][0], done.stderr
    assert "is a writable primary and answers" in _said_once(done), done.stderr


def _sandbox_down(argv: list[str], world: World) -> None:
    world.ensure_sandbox()
    done = world.run(argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sandbox stopped")


def _sandbox_up(argv: list[str], world: World) -> None:
    done = world.run(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sandbox is up" in done.stdout


# In the order a newcomer runs them: the demo's copy serves the rows after it.
RUNNERS: dict[str, Callable[[list[str], World], None]] = {
    "make test": _make_target,
    "make bench": _make_target,
    "make lint": _make_target,
    "make mutants": _make_target,
    "lifeboat check-config": _check_config,
    "lifeboat emulate": _emulate,
    "make demo": _make_demo,
    "make demo SCENARIO=outage": _make_outage,
    "lifeboat status": _status,
    "lifeboat report": _report,
    "lifeboat doctor": _doctor,
    "lifeboat asof": _asof,
    "lifeboat restore": _restore,
    "lifeboat sync": _sync,
    "make ui": _make_ui,
    "lifeboat sandbox status": _sandbox_status,
    "lifeboat ls": _ls,
    "lifeboat connector status": _connector_status,
    "lifeboat connector": _connector,
    "lifeboat switch": _switch,
    "lifeboat failover": _failover,
    "lifeboat sandbox down": _sandbox_down,
    "lifeboat sandbox up": _sandbox_up,
}
# Each a minute or more: copies of every vendor, the Dagster UI, MariaDB servers.
SLOW = {"make demo", "make demo SCENARIO=outage", "make ui", "lifeboat sync", "lifeboat doctor"}
ORDER = list(RUNNERS)


def _one_run_each(commands: list[str]) -> list[str]:
    """`make ui` and `make ui PORT=3001` are one run here: `make ui` is given a free PORT."""
    kept: dict[tuple[str, ...], str] = {}
    for command in commands:
        kept[tuple(w for w in command.split() if not w.startswith("PORT="))] = command
    return list(kept.values())


COMMANDS = sorted(
    _one_run_each(readme_commands()),
    key=lambda c: ORDER.index(k) if (k := _kind(c)) in ORDER else -1,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("readme"))
    shipped = (PROJECT_ROOT / "lifeboat.yaml").read_text()
    made.config.write_text(shipped.replace(SHIPPED_EMULATOR_PORT, str(made.emulator_port)))
    yield made
    made.run([str(LIFEBOAT), "sandbox", "down"])


def test_the_readme_has_command_tables() -> None:
    kinds = {_kind(command) for command in COMMANDS}
    assert {"make demo", "lifeboat sync", "lifeboat switch"} <= kinds, COMMANDS


@pytest.mark.parametrize(
    "command",
    [pytest.param(c, marks=[pytest.mark.slow] if _kind(c) in SLOW else []) for c in COMMANDS],
)
def test_a_readme_command_runs_as_written(command: str, world: World) -> None:
    kind = _kind(command)
    assert kind in RUNNERS, f"README gives `{command}`, which this test does not know how to run"
    if kind in NOT_RUN:
        print(f"not run: `{command}`: {NOT_RUN[kind]}")
    for argv in variants(command, world):
        RUNNERS[kind](argv, world)


def test_every_exit_code_is_in_the_readme() -> None:
    written = {int(code): meaning for code, meaning in _table(EXIT_TABLE)}
    assert written == telling.exit_codes()
