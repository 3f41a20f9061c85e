"""The benchmarks' figures, merged into one JSON file: `$LIFEBOAT_HOME/bench/results.json`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def results_path() -> Path:
    return Path(os.environ.get("LIFEBOAT_HOME") or ROOT / ".lifeboat") / "bench" / "results.json"


def record(figures: dict[str, Any]) -> Path:
    """Add these figures (one key per figure) to the results file, keeping the others."""
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(figures)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True))
    tmp.replace(path)
    return path
