"""The process a fault row runs: lifeboat's ordinary entry point with one fault planted in it.

The harness forks it from a server that imported lifeboat, dlt and Dagster once
(tests/faults/harness.py), so each run costs its own work and not four seconds of imports;
it is still a process of its own, and SIGKILL ends it as it ends `lifeboat sync`.

A fault is planted by wrapping one function (a module attribute) so that the fault strikes
before or after its n-th call, optionally only while another function runs: the kill is
deterministic, it lands in the phase it names and never in a lucky moment.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import wraps
from importlib import import_module
from pathlib import Path
from typing import Any

# Imported by the fork server before any run, with what a sync imports lazily on its first
# use (pandas, dlt's REST and load modules): a forked run starts warm. `definitions` is not
# among them: it reads LIFEBOAT_CONFIG and LIFEBOAT_HOME when imported.
PRELOAD = (
    "lifeboat.cli",
    "lifeboat.instance",
    "pipelines.runner",
    "pipelines.snapshot",
    "pipelines.http",
    "pipelines.stripe",
    "pipelines.restore",
    "dlt.destinations.impl.duckdb.duck",
    "dlt.destinations.insert_job_client",
    "dlt.normalize.items_normalizers.arrow",
    "dlt.sources.rest_api",
    "pyarrow.parquet",
    "pandas",
    "dagster",
    "assets.saas",
    "assets.outcomes",
    "automation.copies",
)
for _name in PRELOAD:
    import_module(_name)

# How often a held run looks for the file that releases it.
HOLD_POLL_SECONDS = 0.01
FILL_BLOCK = 1 << 20


def _resolve(target: str) -> tuple[Any, str]:
    """The object holding a function and the function's name, from 'module:Class.attr'."""
    module, _, path = target.partition(":")
    owner: Any = import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def kill(_: dict[str, Any]) -> None:
    """Die as `kill -9` kills: no handler, no cleanup, no flush."""
    os.kill(os.getpid(), signal.SIGKILL)


def fill(fault: dict[str, Any]) -> None:
    """Fill the file system of `fault['path']` to the last byte; the run then goes on."""
    with open(fault["path"], "ab", buffering=0) as filler:
        for block in (FILL_BLOCK, 4096, 1):
            try:
                while True:
                    filler.write(b"\0" * block)
            except OSError:
                continue


def hold(fault: dict[str, Any]) -> None:
    """Say so in `<path>.held`, then wait until `<path>.release` exists."""
    path = Path(fault["path"])
    path.with_suffix(".held").touch()
    release = path.with_suffix(".release")
    while not release.exists():
        time.sleep(HOLD_POLL_SECONDS)


ACTIONS: dict[str, Callable[[dict[str, Any]], None]] = {"kill": kill, "fill": fill, "hold": hold}


class Planted:
    """One fault wrapped around one function; `struck` says whether it happened."""

    def __init__(self, fault: dict[str, Any]) -> None:
        self.fault = fault
        self.action = ACTIONS[fault["action"]]
        self.calls = 0
        self.struck = False
        self.inside = fault.get("within") is None
        self._wrap(fault["target"], self._strike)
        if fault.get("within"):
            self._wrap(fault["within"], self._scope)

    def _wrap(self, target: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        owner, name = _resolve(target)
        setattr(owner, name, make(getattr(owner, name)))

    def _scope(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(original)
        def scoped(*args: Any, **kwargs: Any) -> Any:
            self.inside = True
            try:
                return original(*args, **kwargs)
            finally:
                self.inside = False

        return scoped

    def _strike(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(original)
        def planted(*args: Any, **kwargs: Any) -> Any:
            if not self.inside or self.struck:
                return original(*args, **kwargs)
            self.calls += 1
            due = self.calls == self.fault.get("call", 1)
            if due and self.fault["when"] == "before":
                self.struck = True
                self.action(self.fault)
            result = original(*args, **kwargs)
            if due and self.fault["when"] == "after":
                self.struck = True
                self.action(self.fault)
            return result

        return planted


def _cli(spec: dict[str, Any]) -> tuple[int, list[str]]:
    from lifeboat.cli import main

    return main(spec["argv"]), []


def _dagster(spec: dict[str, Any]) -> tuple[int, list[str]]:
    """The vendor's copy job on the data home's Dagster instance, as `lifeboat demo` runs it."""
    import dagster as dg

    from automation.copies import today
    from lifeboat.config import home
    from lifeboat.instance import dagster_home

    dagster_home(home())
    from definitions import defs

    with dg.DagsterInstance.get() as instance:
        # Today's partition, as the vendor's schedule asks for it (Stripe has daily datasets).
        result = defs.resolve_job_def(spec["job"]).execute_in_process(
            instance=instance, raise_on_error=False, partition_key=today()
        )
    failures = [_message(event) for event in result.all_events if event.is_step_failure]
    return (0 if result.success else 1), failures


def _message(event: Any) -> str:
    """What a person reads of a failed step: the description lifeboat gave its failure (the
    UI shows it), else the first line of its error (assets.outcomes.failure_text)."""
    from assets.outcomes import failure_text

    data = event.step_failure_data
    described = data.user_failure_data.description if data and data.user_failure_data else None
    return described or failure_text(event)


INTERFACES = {"cli": _cli, "dagster": _dagster}


def _redirect(fd: int, path: str) -> None:
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(target, fd)
    os.close(target)


def run(spec: dict[str, Any]) -> None:
    """Run one interface in this (forked) process with the spec's environment and fault."""
    os.environ.clear()
    os.environ.update(spec["env"])
    _redirect(1, spec["stdout"])
    _redirect(2, spec["stderr"])
    planted = Planted(spec["fault"]) if spec.get("fault") else None
    code, failures = 1, []
    try:
        code, failures = INTERFACES[spec["interface"]](spec)
    finally:
        atexit._run_exitfuncs()  # a forked process skips them; a real CLI's exit runs them
        sys.stdout.flush()
        sys.stderr.flush()
        struck = planted.struck if planted is not None else None
        Path(spec["result"]).write_text(json.dumps({"struck": struck, "failures": failures}))
    sys.exit(code)
