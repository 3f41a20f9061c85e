"""Fetch the next pages while the current ones are turned into Arrow and written."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from pipelines.settings import PREFETCH_PAGES

T = TypeVar("T")

_DONE = object()


def prefetch(pages: Iterable[T], depth: int = PREFETCH_PAGES) -> Iterator[T]:
    """Run `pages` in a background thread, at most `depth` pages ahead of the consumer.

    Waiting on the vendor releases the GIL, so the network and the conversion overlap.
    Errors surface in the consumer at the point they happened; closing the iterator early
    stops the producer after its current page.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        buffer.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            buffer.put(exc)

    worker = threading.Thread(target=produce, name="lifeboat-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.1)
