"""Progress of long copies (pages, records, elapsed), logged every few seconds."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pipelines.settings import PROGRESS_EVERY_SECONDS

log = logging.getLogger("lifeboat.progress")

Page = TypeVar("Page", bound=Sequence[Any])


def track(pages: Iterable[Page], vendor: str, dataset: str) -> Iterator[Page]:
    """Pass pages through, logging pages, records and elapsed time as they go."""
    started = last = time.monotonic()
    count = records = 0
    for page in pages:
        count += 1
        records += len(page)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_SECONDS:
            last = now
            log.info(
                "%s %s: %d pages, %d records, %.0fs (%.0f records/s)",
                vendor,
                dataset,
                count,
                records,
                now - started,
                records / (now - started),
            )
        yield page
    if count:
        log.info(
            "%s %s: done, %d pages, %d records in %.1fs",
            vendor,
            dataset,
            count,
            records,
            time.monotonic() - started,
        )
