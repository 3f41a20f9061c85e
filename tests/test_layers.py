"""The import layers hold (`make lint` checks them too): no upward import, no cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_an_upward_import_from_the_ground_breaks_the_layers(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    with (root / "lifeboat" / "errors.py").open("a") as module:
        module.write("\nimport automation.copies  # noqa: E402,F401\n")
    done = lint(root)
    assert done.returncode != 0
    assert "lifeboat.errors -> automation.copies" in done.stdout


def test_a_cycle_between_modules_breaks_the_contract(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    # pipelines.arrow reads pipelines.drift; drift reading arrow back closes a circle.
    with (root / "pipelines" / "drift.py").open("a") as module:
        module.write("\nimport pipelines.arrow  # noqa: E402,F401\n")
    done = lint(root)
    assert done.returncode != 0
    assert "No import cycles between modules of a package BROKEN" in done.stdout


def test_the_emulators_never_import_the_product(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    with (root / "emulators" / "settings.py").open("a") as module:
        module.write("\nimport lifeboat.settings  # noqa: E402,F401\n")
    done = lint(root)
    assert done.returncode != 0
    assert "emulators.settings -> lifeboat.settings" in done.stdout
