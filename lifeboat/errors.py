"""Exceptions, one class per kind of failure, each with the exit code the CLI ends with.

A class's `exit_code` is the `lifeboat` command's exit code when it ends with that failure,
and its `exit_meaning` what the exit code table (`lifeboat --help`, README) says of it; a
subclass that declares neither shares its parent's. Codes that no exception carries (a
check that found a problem, a usage mistake, a bug, Ctrl-C) are in `OTHER_EXITS`; the
replication package's errors have theirs in one table, replication.cli.EXIT_CODES (this
module, the ground, cannot import them). The CLI turns a failure into its message and code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

EXIT_OK = 0
EXIT_FOUND_PROBLEM = 1
EXIT_USAGE = 2  # argparse's own
EXIT_UNEXPECTED = 70  # sysexits' EX_SOFTWARE
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE

# What each exit code that no exception carries means.
OTHER_EXITS = {
    EXIT_OK: "done",
    EXIT_FOUND_PROBLEM: (
        "done, and it found something wrong: doctor (a copy needs a person), ls (a server "
        "in ERROR), sandbox status (a server stopped), demo (a run failed)"
    ),
    EXIT_USAGE: "usage: a command, option or value the command line does not accept",
    EXIT_UNEXPECTED: "unexpected error, a bug: run again with --debug for the traceback",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "the output's reader went away (`| head`); nothing more was printed",
}


class LifeboatError(Exception):
    """Base of every error lifeboat raises on purpose; its text is meant for a person."""

    exit_code = 3
    exit_meaning = "refused: a name, path or time lifeboat cannot use as given; nothing changed"


class ConfigError(LifeboatError):
    """The inventory or the environment is wrong; the message names the file and field."""

    exit_code = 4
    exit_meaning = "configuration: lifeboat.yaml, or an environment variable it names"


class MissingCredential(ConfigError):
    """An environment variable named in lifeboat.yaml is not set."""


class CopyBusy(LifeboatError):
    """Another run is copying this vendor now: this one stops before asking the vendor."""

    exit_code = 5
    exit_meaning = "busy: another run is copying that vendor now"


class StorageError(LifeboatError):
    """The data home cannot be written (full, read-only, damaged): the copy is unchanged."""

    exit_code = 6
    exit_meaning = "storage: a disk full, read-only or damaged, or a path that cannot be used"


class EmulatorsDown(LifeboatError):
    """A vendor points at the local emulators' address and nothing answers there."""

    exit_code = 7
    exit_meaning = "the local emulators are not running (start them, then run again)"


class VendorError(LifeboatError):
    """A vendor did not give us what we asked for."""

    kind = "vendor error"
    exit_code = 10
    exit_meaning = "a vendor failed in a way not named below"

    def __init__(
        self,
        vendor: str,
        detail: str,
        *,
        status: int | None = None,
        dataset: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.vendor = vendor
        self.detail = detail
        self.status = status
        self.dataset = dataset
        self.retry_after = retry_after
        super().__init__(self._text())

    def _text(self) -> str:
        if self.status:
            # With a status, the detail is what the vendor answered: quoted as its own words,
            # so that the message stays one sentence whatever the vendor wrote.
            detail = self.detail.replace('"', "'")
            return f'{self.vendor}: {self.kind} ({self.status}): "{detail}"'
        return f"{self.vendor}: {self.kind}: {self.detail}"


class VendorOutage(VendorError):
    """5xx, timeouts, refused connections, DNS failures: the vendor is down."""

    kind = "outage"
    exit_code = 11
    exit_meaning = "outage: a vendor is not answering (5xx, timeout, refused)"


class VendorLockout(VendorError):
    """401/403 or a suspension code: the vendor refuses our credentials."""

    kind = "lockout"
    exit_code = 12
    exit_meaning = "lockout: a vendor refused the credentials (401/403, suspended)"


class VendorRateLimited(VendorError):
    """429 or a quota code, still failing after retries within the budget."""

    kind = "rate limited"
    exit_code = 13
    exit_meaning = "rate limited: a vendor kept answering 429 after retries"


class VendorBadResponse(VendorError):
    """A body that is malformed or not what the vendor's contract promises."""

    kind = "bad response"
    exit_code = 14
    exit_meaning = "bad response: a vendor's answer could not be read"


class SchemaDrift(VendorError):
    """A field changed type in a way the copy cannot hold."""

    kind = "schema drift"
    exit_code = 15
    exit_meaning = "schema drift: a vendor changed the shape of its data"


class SuspectedShrink(VendorError):
    """A listing far smaller than the copy: a suspected lockout or partial outage."""

    kind = "suspected lockout or partial outage"
    exit_code = 16
    exit_meaning = "suspected shrink: a listing far smaller than the copy"


def exit_code(error: BaseException, table: Mapping[type[BaseException], int] | None = None) -> int:
    """The exit code of a command that ends with `error`: that of the nearest class of its
    lineage named in `table` or declaring `exit_code`; a bug's otherwise."""
    for cls in type(error).__mro__:
        if table and cls in table:
            return table[cls]
        if "exit_code" in vars(cls):
            return vars(cls)["exit_code"]
    return EXIT_UNEXPECTED


def declared_exits() -> Iterator[tuple[int, str]]:
    """(code, meaning) of every class here that declares its own exit code."""
    pending: list[type] = [LifeboatError]
    while pending:
        cls = pending.pop(0)
        if "exit_code" in vars(cls):
            yield cls.exit_code, cls.exit_meaning
        pending += cls.__subclasses__()
