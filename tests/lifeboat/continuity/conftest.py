"""Fixtures of the bad-day kit tests: copies of every shipped vendor, made by the connectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from lifeboat.continuity.catalog import open_catalog
from tests.lifeboat.continuity.helpers import build_copies, clone


@pytest.fixture(scope="session")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copied once per session (two syncs of every vendor); tests work on clones of it."""
    return build_copies(tmp_path_factory.mktemp("copies"))


@pytest.fixture
def copied_home(copies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data directory holding the copies, free to change."""
    home = clone(copies, tmp_path / "home")
    monkeypatch.setenv("LIFEBOAT_HOME", str(home))
    return home


@pytest.fixture
def catalog(copied_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The copies attached read-only; open it after changing them."""
    con = open_catalog(copied_home)
    yield con
    con.close()
