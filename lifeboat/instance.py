"""Where Dagster keeps its state (under the data directory) and the demo's credentials."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_ENV = PROJECT_ROOT / "emulators" / "demo.env"


def dagster_home(home: Path) -> Path:
    """Make `<home>/dagster` the Dagster instance, configured by the project's dagster.yaml."""
    target = home / "dagster"
    target.mkdir(parents=True, exist_ok=True)
    source = PROJECT_ROOT / "dagster.yaml"
    config = target / "dagster.yaml"
    if not config.exists() or config.read_bytes() != source.read_bytes():
        shutil.copyfile(source, config)
    os.environ["DAGSTER_HOME"] = str(target)
    return target


def load_demo_credentials(path: Path = DEMO_ENV) -> list[str]:
    """Set the emulators' demo credentials for every variable that is not set already."""
    applied = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if name not in os.environ:
            os.environ[name] = value
            applied.append(name)
    return applied
