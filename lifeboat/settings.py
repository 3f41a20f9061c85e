"""Constants shared across lifeboat: file names and environment variable names."""

from __future__ import annotations

CONFIG_ENV = "LIFEBOAT_CONFIG"
HOME_ENV = "LIFEBOAT_HOME"
DEFAULT_CONFIG_FILE = "lifeboat.yaml"
DEFAULT_HOME = ".lifeboat"
# The table of each vendor's DuckDB file holding records set aside because a field
# changed type (pipelines.drift).
QUARANTINE_TABLE = "_quarantine"
