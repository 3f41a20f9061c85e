"""The fault matrix's machinery: forked runs, one row's world, reference copies, the checks.

Every row states the same promise: the copy after the fault equals a clean run's copy (and
its snapshots restore to it), the next ordinary run succeeds with no manual step, and the
person was told once, in one sentence. The checks here return what is wrong as text, so a
row records all three results, not only the first that failed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing import forkserver
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import duckdb
import pytest

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer
from lifeboat import names
from lifeboat.paths import DataHome
from tests.keys import STRIPE_KEY

ROOT = Path(__file__).resolve().parents[2]
VENDOR = "stripe"
SEED = 42
# A few thousand records keep a run near a second: the faults, not the volume, are tested.
# Two datasets (customers, charges), so a fault can fall between two tables' writes.
SCALE = {"stripe.customers": 200, "stripe.charges": 2000}
SKIPPED_DATASETS = ("invoices", "subscriptions")
# The clock moves between the first sync and a later one; the emulator is deterministic, so
# a scene and its reference see the same records after the same moves.
ADVANCES: dict[str, dict[str, Any]] = {
    "first": {},
    "later": {"days": 2, "changes": {"stripe.charges": {"updated": 300}}},
    # Past Stripe's 30 days of events: the next sync lists every record again (a full listing).
    "stale": {"days": 30},
}
# A run that has not ended by then is stopped and reported as hung (a lock never freed).
RUN_TIMEOUT_SECONDS = 120
# How often a waiting test looks again (for a file, a process, a request count).
POLL_SECONDS = 0.02
# A line that says a run stopped earlier was found (the lead logs it through lifeboat.sync).
RECOVERY_LINE = re.compile(r"previous run", re.IGNORECASE)
# What a raw exception looks like once printed: a class name (JSONDecodeError), DuckDB's
# kind of error (IO Error: ...), errno's text, a frame of a traceback.
RAW_ERROR = re.compile(
    r"\b[A-Z]\w*(Error|Exception)\b|\b[A-Z][A-Za-z]* (Error|Exception):|\[Errno \d+\]|^\s*File \""
)
# Two sentences: an end of sentence followed by the start of another.
SENTENCE_BREAK = re.compile(r"[.!?]\s+[A-Z]")
# Text a sentence quotes (a vendor's own words, a path) is part of it, whatever it holds.
QUOTED = re.compile(r"\"[^\"]*\"|(?<!\w)'[^']*'(?!\w)|“[^”]*”|\([^()]*\)")


# Functions the faults are planted in (module:attribute), shared by the rows.
SEND = "pipelines.http:VendorSession.send"  # every request to the vendor
LOAD_JOB = "dlt.destinations.impl.duckdb.duck:DuckDbCopyJob.run"  # one table's file, loaded
SNAPSHOT_PART = "pipelines.snapshot:_copy"  # one Parquet part written
MANIFEST_WRITE = "pipelines.snapshot:_write_json_atomically"
# A request in the middle of each sync's listings, counted from the first (the harness
# counts the emulator's requests): a first sync makes 22 (2 pages of customers, then 20 of
# charges); a later one 11 (per dataset, the newest event, new records, changes); a stale
# one 44, where the 6th is the first page of charges listed again in full, after the
# customers' listing.
MID_LISTING = {"first": 12, "later": 6, "stale": 6}


@dataclass(frozen=True)
class Point:
    """Where a fault strikes: before or after the `call`-th call of `target` (module:attr),
    counting only calls made while `within` runs, when it is given."""

    target: str
    when: str
    call: int = 1
    within: str | None = None


@dataclass(frozen=True)
class Fault:
    """A fault a run's own process plants in itself: kill, fill the disk, or hold still."""

    action: str
    point: Point
    path: str | None = None

    def spec(self) -> dict[str, Any]:
        return {"action": self.action, "path": self.path, **asdict(self.point)}


@dataclass
class Run:
    """What one run did, as a person running it would see it."""

    code: int | None  # the exit code; -9 when killed; None when it never ended
    stdout: str
    stderr: str
    struck: bool | None = None  # whether the planted fault happened (None: none planted)
    failures: list[str] = field(default_factory=list)  # Dagster: each failed step's message
    stalled: str | None = None  # why the run was stopped before it ended

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL

    def describe(self) -> str:
        if self.code is None:
            return self.stalled or "did not end"
        last = [line for line in self.stderr.splitlines() if line.strip()][-1:]
        return f"exit code {self.code}" + (f" ({last[0].strip()[:200]})" if last else "")


def _enter(spec: dict[str, Any]) -> None:
    """The forked process's start: tests.faults.child is already imported there."""
    from tests.faults.child import run

    run(spec)


@contextmanager
def _importable_root() -> Iterator[None]:
    """Let the fork server import this project whatever directory pytest runs from."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), before) if p)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


class Runner:
    """Starts runs as processes forked from a server that preloaded tests.faults.child."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["tests.faults.child"])
        with _importable_root():
            forkserver.ensure_running()

    def start(self, spec: dict[str, Any]) -> BaseProcess:
        process = self.context.Process(target=_enter, args=(spec,), daemon=True)
        process.start()
        return process


class Started:
    """A run under way; `finish` waits for it and reads what it printed."""

    def __init__(self, process: BaseProcess, spec: dict[str, Any], home: Path) -> None:
        self.process = process
        self.spec = spec
        self.home = home

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def ended(self) -> bool:
        return self.process.exitcode is not None

    def finish(self) -> Run:
        """Wait for the run; stop it if it can never end (a Dagster pool slot a dead run
        holds) or has not ended by RUN_TIMEOUT_SECONDS."""
        stalled = None
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while not self.ended and stalled is None:
            self.process.join(POLL_SECONDS * 10)
            if self.spec["interface"] == "dagster" and not self.ended:
                stalled = pool_stall(self.home)
            if time.monotonic() > deadline and not self.ended:
                stalled = f"did not end within {RUN_TIMEOUT_SECONDS}s"
        if not self.ended:
            self.process.kill()
            self.process.join()
        result = _read_json(Path(self.spec["result"]))
        return Run(
            None if stalled else self.process.exitcode,
            Path(self.spec["stdout"]).read_text(errors="replace"),
            Path(self.spec["stderr"]).read_text(errors="replace"),
            result.get("struck"),
            result.get("failures") or [],
            stalled,
        )


def pool_stall(home: Path) -> str | None:
    """Why a Dagster run can never go on: its step waits for the vendor's pool, whose slot
    a run that no longer runs still holds (scenes run one Dagster run at a time)."""
    import dagster as dg

    pool = names.vendor_pool(VENDOR)
    if not (DataHome(home).dagster_dir / "dagster.yaml").exists():
        return None  # the run has not made its instance yet
    try:
        with dg.DagsterInstance.from_config(str(DataHome(home).dagster_dir)) as instance:
            info = instance.event_log_storage.get_concurrency_info(pool)
    except Exception:  # an instance being created, or on a full disk: no verdict yet
        return None
    waiting = {step.run_id for step in info.pending_steps if step.assigned_timestamp is None}
    holders = {slot.run_id for slot in info.claimed_slots} - waiting
    if not waiting or not holders or len(info.claimed_slots) < info.slot_count:
        return None
    return (
        f"waits forever for pool {pool}: its {info.slot_count} slot is held by run "
        f"{', '.join(sorted(holders))}, which no longer runs"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_config(path: Path, url: str) -> Path:
    """A lifeboat.yaml with Stripe alone, at the emulator, two datasets copied."""
    disabled = "".join(f"      {name}: {{enabled: false}}\n" for name in SKIPPED_DATASETS)
    path.write_text(
        "vendors:\n"
        f"  {VENDOR}:\n"
        f"    base_url: {url}/{VENDOR}\n"
        "    credentials: {api_key: STRIPE_API_KEY}\n"
        "    datasets:\n" + disabled
    )
    return path


class Scene:
    """One row's world: a fresh emulator, a data home, its lifeboat.yaml, and its runs."""

    def __init__(self, runner: Runner, workdir: Path, home: Path) -> None:
        self.runner = runner
        self.workdir = workdir
        self.home = home
        self.server = EmulatorServer(Emulator(seed=SEED, scale=SCALE)).start()
        self.control = EmulatorControl(self.server.url)
        self.config = write_config(workdir / "lifeboat.yaml", self.server.url)
        self._runs = 0

    def close(self) -> None:
        self.server.stop()

    def advance(self, scenario: str) -> None:
        if ADVANCES[scenario]:
            self.control.advance(**ADVANCES[scenario])

    def env(self) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LIFEBOAT_", "DAGSTER_", "STRIPE_", "PYTEST_"))
        }
        return {
            **inherited,
            "LIFEBOAT_HOME": str(self.home),
            "LIFEBOAT_CONFIG": str(self.config),
            "STRIPE_API_KEY": STRIPE_KEY,
        }

    def start(self, interface: str = "cli", fault: Fault | None = None) -> Started:
        """Start `lifeboat sync stripe` (cli) or the copy_stripe job (dagster)."""
        self._runs += 1
        stem = self.workdir / f"run{self._runs}"
        spec = {
            "interface": interface,
            "argv": ["sync", VENDOR],
            "job": names.copy_job(VENDOR),
            "env": self.env(),
            "stdout": f"{stem}.out",
            "stderr": f"{stem}.err",
            "result": f"{stem}.json",
            "fault": fault.spec() if fault else None,
        }
        return Started(self.runner.start(spec), spec, self.home)

    def run(self, interface: str = "cli", fault: Fault | None = None) -> Run:
        return self.start(interface, fault).finish()

    def copy(self) -> Copy:
        return read_copy(self.home)


class Lab:
    """The session's runner, its first clean copy (the base), and the reference copies."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runner = Runner()
        self._base: Path | None = None
        self._references: dict[str, Copy] = {}
        self._scenes = 0

    def scene(self, scenario: str, home: Path | None = None) -> Scene:
        """A fresh emulator and a home as `scenario` starts: empty for a first sync, else
        the base copy (a clean first sync) with the emulator's clock moved on."""
        self._scenes += 1
        workdir = self.root / f"scene{self._scenes}"
        workdir.mkdir()
        home = home or workdir / "home"
        if scenario == "first":
            home.mkdir(exist_ok=True)
        else:
            shutil.copytree(self.base(), home, symlinks=True, dirs_exist_ok=True)
        scene = Scene(self.runner, workdir, home)
        scene.advance(scenario)
        return scene

    def base(self) -> Path:
        """The home after one clean first sync, made once and copied by every later scene."""
        if self._base is None:
            scene = self.scene("first")
            try:
                run = scene.run()
                assert run.code == 0, f"the clean first sync failed: {run.describe()}"
            finally:
                scene.close()
            self._base = scene.home
        return self._base

    def reference(self, scenario: str) -> Copy:
        """The copy a clean run makes of the emulator in the state `scenario` leaves it."""
        if scenario not in self._references:
            if scenario == "first":
                self._references[scenario] = read_copy(self.base())
            else:
                scene = self.scene(scenario)
                try:
                    run = scene.run()
                    assert run.code == 0, f"the clean {scenario} sync failed: {run.describe()}"
                    self._references[scenario] = scene.copy()
                finally:
                    scene.close()
        return self._references[scenario]


# --- the copy ------------------------------------------------------------------------------


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass
class Copy:
    """A vendor's tables (not dlt's, not history, not set aside), or why they cannot be read."""

    tables: dict[str, Table]
    problem: str | None = None

    def ids(self) -> dict[str, set[Any]]:
        found = {}
        for name, table in self.tables.items():
            if "id" in table.columns:
                at = table.columns.index("id")
                found[name] = {row[at] for row in table.rows}
        return found


def read_copy(home: Path) -> Copy:
    """Each vendor table of the DuckDB file, columns not starting with _dlt, rows sorted."""
    database = DataHome(home).warehouse(VENDOR)
    if not database.exists():
        return Copy({}, f"there is no {database.name}")
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            tables = [
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                    "AND table_type = 'BASE TABLE' ORDER BY 1"
                ).fetchall()
                if not row[0].startswith("_") and not row[0].endswith("_history")
            ]
            return Copy({name: _read_table(con, name) for name in tables})
    except duckdb.Error as exc:
        return Copy({}, f"{database.name} cannot be read: {str(exc).splitlines()[0][:160]}")


def _read_table(con: duckdb.DuckDBPyConnection, table: str) -> Table:
    columns = tuple(
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = ? ORDER BY column_name",
            [table],
        ).fetchall()
        if not row[0].startswith("_dlt")
    )
    listed = ", ".join(f'"{c}"' for c in columns)
    rows = con.execute(f'SELECT {listed} FROM main."{table}" ORDER BY ALL').fetchall()
    return Table(columns, rows)


def differences(
    copy: Copy, reference: Copy, added_columns: frozenset[str] = frozenset()
) -> list[str]:
    """How `copy` differs from the clean run's `reference`: tables, columns, rows."""
    if copy.problem:
        return [copy.problem]
    found = []
    if missing := sorted(set(reference.tables) - set(copy.tables)):
        found.append(f"tables missing from the copy: {', '.join(missing)}")
    if extra := sorted(set(copy.tables) - set(reference.tables)):
        found.append(f"tables the clean run does not have: {', '.join(extra)}")
    for name in sorted(set(copy.tables) & set(reference.tables)):
        found += _table_differences(name, copy.tables[name], reference.tables[name], added_columns)
    return found


def _table_differences(
    name: str, table: Table, reference: Table, added: frozenset[str]
) -> list[str]:
    found = []
    if missing := sorted(set(reference.columns) - set(table.columns)):
        return [f"{name}: columns missing: {', '.join(missing)}"]
    if extra := sorted(set(table.columns) - set(reference.columns) - added):
        found.append(f"{name}: columns the clean run does not have: {', '.join(extra)}")
    at = [table.columns.index(c) for c in reference.columns]
    rows = Counter(tuple(row[i] for i in at) for row in table.rows)
    expected = Counter(reference.rows)
    lacking, surplus = expected - rows, rows - expected
    if "id" in reference.columns:
        key = reference.columns.index("id")
        ids = Counter(row[key] for row in rows.elements())
        twice = sum(1 for count in ids.values() if count > 1)
        gone = len({row[key] for row in lacking} - set(ids))
    else:
        twice = gone = 0
    if lacking or surplus:
        found.append(
            f"{name}: {len(table.rows):,} rows, the clean run has {len(reference.rows):,}; "
            f"{sum(lacking.values()):,} of its rows missing or different, "
            f"{sum(surplus.values()):,} rows it lacks; {gone:,} records absent, "
            f"{twice:,} held twice"
        )
    return found


def shrunk(before: Copy, after: Copy) -> list[str]:
    """Records `before` held that `after` lost: a fault must never make the copy smaller."""
    if after.problem:
        return [f"after the fault: {after.problem}"]
    found = []
    now = after.ids()
    for name, ids in before.ids().items():
        if lost := len(ids - now.get(name, set())):
            found.append(f"the fault made {name} lose {lost:,} of its {len(ids):,} records")
    return found


def drill_problems(home: Path) -> list[str]:
    """The restore drill's findings: the snapshots must restore to exactly the copy."""
    from pipelines.restore import drill

    try:
        report = drill(home, VENDOR)
    except Exception as exc:  # the drill itself crashing is the finding
        return [f"the restore drill crashed: {type(exc).__name__}: {str(exc)[:160]}"]
    return [] if report.ok else [report.summary()]


# --- what the person was told --------------------------------------------------------------


def sentence_problem(text: str) -> str | None:
    """Why `text` is not one plain sentence for a person, or None."""
    text = text.strip()
    if not text:
        return "the message is empty"
    if "\n" in text:
        return f"the message has {len(text.splitlines())} lines"
    if RAW_ERROR.search(text):
        return f"the message is a raw error: {text[:200]!r}"
    if SENTENCE_BREAK.search(QUOTED.sub("", text)):
        return f"the message is more than one sentence: {text[:200]!r}"
    return None


def no_traceback(run: Run, which: str) -> list[str]:
    if "Traceback" in run.output:
        return [f"the {which} printed a traceback ending {_last_line(run.output)!r}"]
    return []


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def told_failure(run: Run, interface: str) -> list[str]:
    """A failed run said what went wrong in one sentence: the CLI once, on stderr, with no
    traceback; Dagster in the message of each step that failed."""
    if run.code is None or run.code <= 0:
        return [f"the run should have failed with a sentence but {run.describe()}"]
    if interface == "dagster":
        if not run.failures:
            return ["the run failed but no step failed with a message"]
        return [
            f"the failed step's message: {problem}"
            for problem in map(sentence_problem, run.failures)
            if problem
        ]
    found = no_traceback(run, "failed run")
    lines = [line for line in run.stderr.splitlines() if line.startswith("lifeboat: ")]
    if len(lines) != 1:
        return [*found, f"{len(lines)} lines start 'lifeboat: ' instead of one: {lines[:3]}"]
    problem = sentence_problem(lines[0].removeprefix("lifeboat: "))
    return [*found, *([problem] if problem else [])]


def told_outcome(run: Run, interface: str = "cli") -> list[str]:
    """A run that may either repair what it found and succeed, or fail with a sentence."""
    return no_traceback(run, "run") if run.code == 0 else told_failure(run, interface)


def told_recovery(next_run: Run) -> list[str]:
    """After a kill, the next run mentions what it recovered in one line at most."""
    lines = [line for line in next_run.output.splitlines() if RECOVERY_LINE.search(line)]
    if len(lines) > 1:
        return [f"the next run mentions the stopped run in {len(lines)} lines: {lines[:3]}"]
    return []


def succeeded(run: Run, which: str) -> list[str]:
    """The run ended with exit code 0 (Dagster: the job succeeded) and no traceback."""
    found = [] if run.code == 0 else [f"the {which} failed: {run.describe()}"]
    return found + no_traceback(run, which)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds; a hang guard, not a measure of speed."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {RUN_TIMEOUT_SECONDS}s", False)
        time.sleep(POLL_SECONDS)


def waiting_on_lock(pid: int | None) -> bool:
    """Whether process `pid` is blocked waiting for a file lock (flock, fcntl, lockf)."""
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return False
    return any("->" in line and str(pid) in line.split() for line in locks.splitlines())


# --- mounts --------------------------------------------------------------------------------


def mount(*args: str) -> str | None:
    """Run mount(8); the reason it failed, or None."""
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount {args} failed")


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


class ReadOnly:
    """Directories made read-only for root too: a read-only bind mount of each on itself."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def freeze(self, directory: Path) -> None:
        if os.geteuid() != 0:
            pytest.skip("a read-only directory needs a bind mount (root ignores chmod)")
        if problem := mount("--bind", str(directory), str(directory)):
            pytest.skip(f"cannot bind-mount here: {problem}")
        self.mounted.append(directory)
        if problem := mount("-o", "remount,ro,bind", str(directory)):
            pytest.skip(f"cannot remount read-only here: {problem}")

    def thaw(self) -> None:
        while self.mounted:
            umount(self.mounted.pop())


# --- the matrix ----------------------------------------------------------------------------

CHECKS = ("copy", "next run", "told")


@dataclass
class Row:
    """One row of the matrix: a fault, where it struck, through which interface, and the
    problems each of the three checks found (None: the row never got that far)."""

    id: str
    fault: str
    phase: str
    interface: str
    checks: dict[str, list[str] | None] = field(default_factory=lambda: dict.fromkeys(CHECKS))
    result: str = "error"
    # Why the test stopped before its checks were all recorded (an assertion, a crash).
    error: str | None = None

    def check(self, name: str, problems: list[str]) -> None:
        self.checks[name] = list(problems)

    def conclude(self) -> None:
        """Fail the test with every problem found, after all three checks were recorded."""
        problems = [f"{name}: {p}" for name, found in self.checks.items() for p in found or []]
        if problems:
            pytest.fail(f"{self.id} broke its promise:\n  " + "\n  ".join(problems), False)


# Every row this session opened, in the order the tests ran (read by the terminal summary).
MATRIX: list[Row] = []
