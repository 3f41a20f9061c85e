"""A copy's failure in Dagster: raised with its outcome as metadata, read back from the event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from lifeboat.config import Inventory
from lifeboat.errors import LifeboatError
from lifeboat.messages import explain, gather_facts, vendor_error_in
from lifeboat.outcomes import Outcome, from_metadata, to_metadata
from lifeboat.secrets import mask


def copy_failure(
    exc: BaseException, vendor: str, home: Path, inventory: Inventory, secrets: tuple[str, ...]
) -> dg.Failure | None:
    """The failure to raise for `exc`: a person's message plus the outcome as metadata.

    A failure lifeboat named but no vendor caused (a full disk, another run copying the
    vendor) is raised with its sentence alone. None for anything else (a bug): it is
    raised as it is, with its traceback.
    """
    error = vendor_error_in(exc)
    if error is None:
        if isinstance(exc, LifeboatError):
            return dg.Failure(description=mask(str(exc), secrets))
        return None
    facts = gather_facts(vendor, home, inventory)
    return dg.Failure(
        description=explain(error, facts, secrets), metadata=to_metadata(error, secrets)
    )


def failure_outcome(event: dg.DagsterEvent | None) -> Outcome | None:
    """The outcome a failed step recorded, if it recorded one (see `copy_failure`)."""
    data = event.step_failure_data if event is not None else None
    if data is None or data.user_failure_data is None:
        return None
    return from_metadata(data.user_failure_data.metadata)


def _chain(error: Any) -> Iterator[str]:
    while error is not None:
        yield error.message or ""
        error = error.cause or getattr(error, "context", None)


def failure_text(event: dg.DagsterEvent | None) -> str:
    """The first line of a failed step's error, for failures that recorded no outcome."""
    data = event.step_failure_data if event is not None else None
    for message in _chain(data.error if data is not None else None):
        first = next((line.strip() for line in message.splitlines() if line.strip()), "")
        if first:
            return first
    return ""
