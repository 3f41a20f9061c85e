"""The import layers hold (`make lint` checks them too): no upward import, no cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "lifeboat",
    "pipelines",
    "assets",
    "resources",
    "automation",
    "replication",
    "emulators",
)
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def project_copy(tmp_path: Path) -> Path:
    """The project's packages and contracts, free to break."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_project_keeps_its_import_contracts() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


# A broken import added to one module, and what the contracts then say. pipelines.arrow
# reads pipelines.drift, so drift reading arrow back closes a circle.
BREAKS = {
    "an upward import from the ground": (
        "lifeboat/errors.py",
        "automation.copies",
        "lifeboat.errors -> automation.copies",
    ),
    "a cycle between modules": (
        "pipelines/drift.py",
        "pipelines.arrow",
        "No import cycles between modules of a package BROKEN",
    ),
    "an emulator importing the product": (
        "emulators/settings.py",
        "lifeboat.settings",
        "emulators.settings -> lifeboat.settings",
    ),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_a_broken_layer_breaks_its_contract(case: str, tmp_path: Path) -> None:
    module, imported, said = BREAKS[case]
    root = project_copy(tmp_path)
    with (root / module).open("a") as source:
        source.write(f"\nimport {imported}  # noqa: E402,F401\n")
    done = lint(root)
    assert done.returncode != 0
    assert said in done.stdout
