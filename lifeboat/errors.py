"""Exceptions, one class per kind of failure, and the one place they become a message."""

from __future__ import annotations


class LifeboatError(Exception):
    """Base of every error lifeboat raises on purpose; its text is meant for a person."""


class ConfigError(LifeboatError):
    """The inventory or the environment is wrong; the message names the file and field."""


class MissingCredential(ConfigError):
    """An environment variable named in lifeboat.yaml is not set."""


class CopyBusy(LifeboatError):
    """Another run is copying this vendor now: this one stops before asking the vendor."""


class StorageError(LifeboatError):
    """The data home cannot be written (full, read-only, damaged): the copy is unchanged."""


class VendorError(LifeboatError):
    """A vendor did not give us what we asked for."""

    kind = "vendor error"

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


class VendorLockout(VendorError):
    """401/403 or a suspension code: the vendor refuses our credentials."""

    kind = "lockout"


class VendorRateLimited(VendorError):
    """429 or a quota code, still failing after retries within the budget."""

    kind = "rate limited"


class VendorBadResponse(VendorError):
    """A body that is malformed or not what the vendor's contract promises."""

    kind = "bad response"


class SchemaDrift(VendorError):
    """A field changed type in a way the copy cannot hold."""

    kind = "schema drift"


class SuspectedShrink(VendorError):
    """A listing far smaller than the copy: a suspected lockout or partial outage."""

    kind = "suspected lockout or partial outage"
