"""`make mutants`: break each promise on purpose in a scratch copy and see the tests notice.

Each mutant of mutants.toml is one exact change to one file. The runner copies the
repository (its tracked and untracked files, as they are now; the project's .venv is used
where it is) to a scratch directory, runs every listed test once on the unchanged copy
(the baseline: a test that fails there proves nothing), then applies one mutant at a time,
runs only its tests and puts the file back. A mutant is caught when a test fails.

Why not mutmut: it generates its own mutants from operators and names them by position,
so a name changes whenever the code around it does, and it cannot apply a change written
by hand for a promise. These mutants are chosen for what they break, and found by text.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST = Path(__file__).with_name("mutants.toml")
PYTHON = ROOT / ".venv" / "bin" / "python"
PYTEST = ("-m", "pytest", "-q", "-p", "no:cacheprovider")
# A mutant whose tests run longer than this is stopped and counted as caught (it hung).
RUN_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class Mutant:
    id: str
    promise: str
    source: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What one pytest run said: its exit code, its counts, the node ids that did not pass."""

    returncode: int | None  # None: stopped after RUN_TIMEOUT_SECONDS
    passed: int
    failed: int
    skipped: int
    broken: tuple[str, ...]
    seconds: float

    @property
    def result(self) -> str:
        if self.returncode is None:
            return "caught (timeout)"
        if self.failed:
            return "caught"
        if self.returncode == 0 and self.passed and not self.skipped:
            return "SURVIVED"
        return f"ERROR (pytest exit {self.returncode}, {self.skipped} skipped)"


def load(path: Path = LIST) -> list[Mutant]:
    entries = tomllib.loads(path.read_text())["mutant"]
    mutants = [
        Mutant(
            id=e["id"],
            promise=e["promise"],
            source=e["source"],
            file=e["file"],
            original=e["original"],
            replacement=e["replacement"],
            tests=tuple(e["tests"]),
        )
        for e in entries
    ]
    ids = [m.id for m in mutants]
    doubled = sorted({i for i in ids if ids.count(i) > 1})
    if doubled:
        raise SystemExit(f"mutants: ids used twice in {path.name}: {', '.join(doubled)}")
    return mutants


def problems(mutants: Iterable[Mutant], root: Path) -> list[str]:
    """Why mutants cannot be applied to the code at `root` as it is now."""
    found = []
    for m in mutants:
        path = root / m.file
        if not path.is_file():
            found.append(f"{m.id}: {m.file} does not exist")
            continue
        count = path.read_text().count(m.original)
        if count != 1:
            found.append(f"{m.id}: its original text is found {count} times in {m.file}, not once")
        if m.original == m.replacement:
            found.append(f"{m.id}: its replacement is its original")
        for test in m.tests:
            if not (root / test.split("::")[0]).is_file():
                found.append(f"{m.id}: no test file {test.split('::')[0]}")
    return found


def project_files(root: Path) -> list[str]:
    """The repository's files as they are now: tracked and untracked, not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name})


def make_scratch(root: Path, into: Path) -> None:
    for name in project_files(root):
        source = root / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    (into / ".venv").symlink_to(root / ".venv")


def environment(scratch: Path) -> dict[str, str]:
    """The scratch copy first on every Python's path, subprocesses too (the .venv's own
    editable install points at the real checkout); no bytecode, so a file changed and put
    back within one second is never run from a stale cache."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(scratch), env.get("PYTHONPATH")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["LIFEBOAT_HOME"] = str(scratch / ".lifeboat")
    env.pop("DAGSTER_HOME", None)
    return env


def check_imports(scratch: Path) -> None:
    found = subprocess.run(
        [str(PYTHON), "-c", "import pipelines; print(pipelines.__file__)"],
        cwd=scratch,
        env=environment(scratch),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not Path(found).is_relative_to(scratch):
        raise SystemExit(f"mutants: the scratch copy imports {found}, not its own code")


def _node(case: ET.Element) -> str:
    path = case.get("classname", "").replace(".", "/")
    # Test classes would make the class name longer than the module's path.
    while path and not (Path(path + ".py")).name.startswith("test_"):
        path = path.rsplit("/", 1)[0]
    return f"{path}.py::{case.get('name', '')}"


def run_tests(scratch: Path, tests: Sequence[str], log: Path, stop_at_first: bool) -> Outcome:
    report = log.with_suffix(".xml")
    command = [str(PYTHON), *PYTEST, f"--junitxml={report}", *tests]
    if stop_at_first:
        command.insert(len(PYTEST) + 1, "-x")
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=scratch,
            env=environment(scratch),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode: int | None = process.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            returncode = None
    seconds = time.monotonic() - started
    passed = failed = skipped = 0
    broken = []
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                skipped += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                broken.append(_node(case))
            else:
                passed += 1
    return Outcome(returncode, passed, failed, skipped, tuple(broken), seconds)


def compiles(path: Path, text: str) -> bool:
    """A mutant must break a promise, not the syntax: a file that cannot be imported would
    be caught by any test at all."""
    if path.suffix != ".py":
        return True
    try:
        compile(text, str(path), "exec")
    except SyntaxError:
        return False
    return True


def covers(test: str, node: str) -> bool:
    """Whether the listed `test` (a file, a test, a parametrized test) selects `node`."""
    if "::" not in test:
        return node.split("::")[0] == test
    return node == test or node.split("[")[0] == test


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant ids (make mutants ONLY=a,b)")
    parser.add_argument("--check", action="store_true", help="only check the list applies")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unchanged run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy and logs")
    args = parser.parse_args(argv)

    mutants = load()
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {m.id for m in mutants})
        if unknown:
            raise SystemExit(f"mutants: no mutant named {', '.join(unknown)}")
        mutants = [m for m in mutants if m.id in wanted]
    found = problems(mutants, ROOT)
    if found:
        print("mutants: the list no longer fits the code; write these again:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in found), file=sys.stderr)
        return 2
    if args.check:
        print(f"mutants: all {len(mutants)} apply to the code as it is")
        return 0

    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="lifeboat-mutants-"))
    logs = scratch / "_mutants"
    try:
        make_scratch(ROOT, scratch)
        logs.mkdir()
        check_imports(scratch)
        print(f"mutants: {len(mutants)} mutants, scratch copy in {scratch}", flush=True)
        broken: tuple[str, ...] = ()
        baseline_seconds = 0.0
        if not args.no_baseline:
            tests = list(dict.fromkeys(t for m in mutants for t in m.tests))
            print(f"baseline: {len(tests)} tests on the unchanged copy ...", flush=True)
            base = run_tests(scratch, tests, logs / "baseline.log", stop_at_first=False)
            baseline_seconds = base.seconds
            broken = base.broken
            print(
                f"baseline: {base.passed} passed, {base.failed} failed, {base.skipped} skipped "
                f"in {base.seconds:.0f} s",
                flush=True,
            )
            if base.skipped or base.returncode not in (0, 1):
                print(f"mutants: the baseline did not run cleanly; see {logs}", file=sys.stderr)
                args.keep = True
                return 2
        rows = [("mutant", "promise", "source", "result", "s")]
        caught = 0
        for number, m in enumerate(mutants, 1):
            unsure = [t for t in m.tests if any(covers(t, node) for node in broken)]
            path = scratch / m.file
            kept = path.read_bytes()
            changed = kept.decode().replace(m.original, m.replacement, 1)
            by = ""
            if unsure:
                result, seconds = "UNUSABLE (its tests fail unchanged)", 0.0
            elif not compiles(path, changed):
                result, seconds = "ERROR (the mutant does not compile)", 0.0
            else:
                path.write_text(changed)
                try:
                    outcome = run_tests(scratch, m.tests, logs / f"{m.id}.log", True)
                finally:
                    path.write_bytes(kept)
                result, seconds = outcome.result, outcome.seconds
                by = f", by {outcome.broken[0]}" if outcome.broken else ""
            caught += result.startswith("caught")
            print(f"[{number}/{len(mutants)}] {m.id}: {result} ({seconds:.0f} s{by})", flush=True)
            rows.append((m.id, m.promise, m.source, result, f"{seconds:.0f}"))
        total = time.monotonic() - started
        print()
        print(table(rows))
        score = 100 * caught / len(mutants) if mutants else 100.0
        print(
            f"\nscore: {caught} of {len(mutants)} mutants caught ({score:.0f}%) in {total:.0f} s "
            f"(baseline {baseline_seconds:.0f} s)"
        )
        if caught < len(mutants):
            args.keep = True
            print(f"logs of each run: {logs}")
        return 0 if caught == len(mutants) else 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
