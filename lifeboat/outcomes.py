"""A failed copy's outcome: vendor, kind and detail, kept as structured metadata, read back once.

The copy asset records the VendorError it failed with as metadata on its Dagster failure
(`to_metadata`); sensors, the report and the vendor status read it with `from_metadata`.
Nothing recovers a kind from the text of an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lifeboat.errors import (
    SchemaDrift,
    SuspectedShrink,
    VendorBadResponse,
    VendorError,
    VendorLockout,
    VendorOutage,
    VendorRateLimited,
)
from lifeboat.secrets import mask

VENDOR_KEY = "lifeboat/vendor"
KIND_KEY = "lifeboat/error_kind"
DETAIL_KEY = "lifeboat/error_detail"
STATUS_KEY = "lifeboat/error_status"
DATASET_KEY = "lifeboat/dataset"
RETRY_AFTER_KEY = "lifeboat/retry_after_seconds"

_CLASSES: dict[str, type[VendorError]] = {
    cls.kind: cls
    for cls in (
        VendorOutage,
        VendorLockout,
        VendorRateLimited,
        VendorBadResponse,
        SchemaDrift,
        SuspectedShrink,
        VendorError,
    )
}


@dataclass(frozen=True)
class Outcome:
    """Why a vendor's copy failed, as the person is told it."""

    vendor: str
    kind: str
    detail: str
    status: int | None = None
    dataset: str | None = None
    retry_after: float | None = None

    def error(self) -> VendorError:
        """The VendorError this outcome records, to explain it with lifeboat.messages."""
        cls = _CLASSES.get(self.kind, VendorError)
        return cls(
            self.vendor,
            self.detail,
            status=self.status,
            dataset=self.dataset,
            retry_after=self.retry_after,
        )


def to_metadata(error: VendorError, secrets: tuple[str, ...] = ()) -> dict[str, str | int | float]:
    """The metadata a failure carries for `error`; the detail has its secrets masked."""
    metadata: dict[str, str | int | float] = {
        VENDOR_KEY: error.vendor,
        KIND_KEY: error.kind,
        DETAIL_KEY: mask(error.detail, secrets),
    }
    if error.status is not None:
        metadata[STATUS_KEY] = int(error.status)
    if error.dataset is not None:
        metadata[DATASET_KEY] = error.dataset
    if error.retry_after is not None:
        metadata[RETRY_AFTER_KEY] = float(error.retry_after)
    return metadata


def _plain(value: Any) -> Any:
    """A metadata value as Python: Dagster wraps each in a MetadataValue with `.value`."""
    return getattr(value, "value", value)


def from_metadata(metadata: Mapping[str, Any] | None) -> Outcome | None:
    """The outcome recorded in a failure's metadata, or None when it recorded none."""
    if not metadata or VENDOR_KEY not in metadata or KIND_KEY not in metadata:
        return None
    status = _plain(metadata.get(STATUS_KEY))
    retry_after = _plain(metadata.get(RETRY_AFTER_KEY))
    return Outcome(
        vendor=str(_plain(metadata[VENDOR_KEY])),
        kind=str(_plain(metadata[KIND_KEY])),
        detail=str(_plain(metadata.get(DETAIL_KEY)) or ""),
        status=int(status) if status is not None else None,
        dataset=_plain(metadata.get(DATASET_KEY)),
        retry_after=float(retry_after) if retry_after is not None else None,
    )
