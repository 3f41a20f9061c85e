"""How a failure of a `lifeboat` command reaches a person: one message and an exit code.

Every command goes through `tell`: what happened, what is safe, what to do, as Dagster
says it for a copy (`lifeboat.messages.explain`), with an exit code per kind of failure;
the traceback only with --debug.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
import traceback
from collections.abc import Iterator
from typing import Any

import pymysql

from lifeboat import messages
from lifeboat.config import home, inventory
from lifeboat.errors import (
    EXIT_INTERRUPTED,
    EXIT_UNEXPECTED,
    OTHER_EXITS,
    LifeboatError,
    StorageError,
    VendorError,
    declared_exits,
    exit_code,
)
from lifeboat.secrets import mask, secret_values
from pipelines.registry import vendors
from replication import cli as replication_cli
from replication.errors import ReplicationError
from replication.topology import describe_error

# What is safe when a command stops midway, said in the one line about it.
SAFE_DEFAULT = "nothing already copied was lost"
MIDWAY = "the MySQL servers may be midway through the {}: run `lifeboat ls` before anything else"
SAFE = {command: MIDWAY.format(command) for command in ("switch", "failover")}


def exit_codes() -> dict[int, str]:
    """Every exit code of the `lifeboat` command and what it means, lowest first."""
    pairs = [*OTHER_EXITS.items(), *declared_exits(), *replication_cli.EXIT_CODES.values()]
    return dict(sorted(pairs))


def exit_code_help() -> str:
    """The exit code table, as `lifeboat --help` ends."""
    lines = ["exit codes:"]
    for code, meaning in exit_codes().items():
        lines += textwrap.wrap(
            meaning, width=88, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7
        )
    return "\n".join(lines)


def _secrets() -> tuple[str, ...]:
    """The values of every credential the inventory names, to mask in any message; none
    when the inventory itself cannot be read (its own error says so, and holds none)."""
    try:
        inv = inventory().bind(vendors())
        names = [env for vendor in inv.vendors for env in inv.credential_envs(vendor).values()]
    except Exception:  # the failure being told is what matters here
        return ()
    return secret_values(names)


def _explained(error: VendorError, secrets: tuple[str, ...]) -> str:
    """A vendor's failure as Dagster's copy step tells it (assets.outcomes.copy_failure)."""
    try:
        facts = messages.gather_facts(error.vendor, home(), inventory().bind(vendors()))
    except Exception:  # without the facts, the error's own sentence still holds
        return str(error)
    return messages.explain(error, facts, secrets)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: its cause, its context, and a dlt step's `exception`."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__, getattr(current, "exception", None)]


def describe(exc: BaseException, command: str | None) -> tuple[str, int]:
    """The one message a person reads for `exc` ending `command`, and the exit code."""
    safe = SAFE.get(command or "", SAFE_DEFAULT)
    replication = {cls: code for cls, (code, _) in replication_cli.EXIT_CODES.items()}
    if any(isinstance(cause, KeyboardInterrupt) for cause in _chain(exc)):
        then = "" if command in SAFE else ", and the next run puts right what this one left"
        return f"interrupted (Ctrl-C); {safe}{then}", EXIT_INTERRUPTED
    if isinstance(exc, VendorError):
        return _explained(exc, _secrets()), exit_code(exc)
    if isinstance(exc, LifeboatError):
        return str(exc), exit_code(exc, replication)
    if (error := messages.vendor_error_in(exc)) is not None:
        return _explained(error, _secrets()), exit_code(error)
    if isinstance(exc, pymysql.MySQLError):
        return (
            f"a MySQL server answered {describe_error(exc)}; see the servers' state with "
            "`lifeboat ls` before trying again"
        ), replication[ReplicationError]
    if isinstance(exc, SystemExit) and isinstance(exc.code, str):
        return exc.code, LifeboatError.exit_code  # the emulators' refusal (they import no lifeboat)
    if isinstance(exc, OSError) and exc.filename:
        reason = (exc.strerror or str(exc)).lower()
        return (
            f"cannot use {exc.filename}: {reason}; {safe}; check that path (it must exist, "
            "be writable and have room), then run again"
        ), StorageError.exit_code
    text = " ".join(str(exc).split()) or "no message"
    return (
        f"unexpected error ({type(exc).__name__}: {text}); {safe}; "
        "run again with --debug for the traceback"
    ), EXIT_UNEXPECTED


def tell(exc: BaseException, args: argparse.Namespace, secrets: tuple[str, ...] = ()) -> int:
    """Say `exc` on stderr in one message (its traceback first with --debug); its exit code."""
    if getattr(args, "debug", False):
        traceback.print_exception(exc, file=sys.stderr)
    text, code = describe(exc, getattr(args, "command", None))
    print(f"lifeboat: {mask(text, (*secrets, *_secrets()))}", file=sys.stderr, flush=True)
    return code


class _Terminal(logging.StreamHandler):
    """Progress lines to whatever stderr is when they are logged (a test may swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _only_critical(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL


def log_to_terminal(debug: bool) -> None:
    """Progress on stderr (one handler per process); dlt's own log only with --debug."""
    logger = logging.getLogger("lifeboat")
    if not any(isinstance(h, _Terminal) for h in logger.handlers):
        handler = _Terminal()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    # dlt logs a failed load job with its traceback before raising; lifeboat says what
    # happened in one sentence (a filter: dlt resets its logger's level whenever a pipeline
    # starts).
    if debug:
        logging.getLogger("dlt").removeFilter(_only_critical)
    else:
        logging.getLogger("dlt").addFilter(_only_critical)
