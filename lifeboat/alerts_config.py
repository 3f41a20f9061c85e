"""The `alerts:` section of lifeboat.yaml: where alerts go."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AlertsConfig(BaseModel):
    """Alert channels; the local JSON-lines log is always on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
