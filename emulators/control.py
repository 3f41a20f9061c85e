"""A small client for the emulator's control API (clock, faults, counters)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class EmulatorControl:
    """Drive a running emulator: advance its clock, switch faults, read what it served."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.url}/_emulator{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def identity(self) -> dict[str, Any]:
        """Who the emulators are: service, checkout (directory), pid, seed, start, start_day."""
        return self._call("GET", "/identity")

    def advance(
        self, *, days: float = 0, seconds: int = 0, changes: dict[str, dict[str, int]] | None = None
    ) -> int:
        """Move the emulated clock; `changes` pins exact update/delete counts per dataset."""
        payload: dict[str, Any] = {"seconds": int(seconds + days * 86_400)}
        if changes:
            payload["changes"] = changes
        return self._call("POST", "/advance", payload)["now"]

    def fault(self, vendor: str, mode: str | None, **options: Any) -> None:
        """Switch a fault on (outage, lockout, rate_limit, slow, empty, partial, malformed,
        drift).

        `mode=None` switches it off; `after=N` lets N requests through before it starts.
        """
        self._call("POST", "/faults", {"vendor": vendor, "mode": mode, **options})

    def clear_faults(self, vendor: str) -> None:
        self.fault(vendor, None)

    def credentials(self, vendor: str, **values: str) -> None:
        """Accept only these credentials for `vendor` from now on (a rotated or revoked key)."""
        self._call("POST", "/credentials", {"vendor": vendor, "credentials": values})

    def reset_counters(self) -> None:
        self._call("POST", "/reset-counters", {})

    def served(self, vendor: str) -> dict[str, int]:
        return self.state()["served"].get(vendor, {})

    def requests(self, vendor: str) -> int:
        return self.state()["requests"].get(vendor, 0)
