"""Fixtures that start real MariaDB topologies on free ports under temporary directories."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from replication.sandbox import Sandbox

MakeSandbox = Callable[[], Sandbox]


@pytest.fixture(scope="session")
def make_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeSandbox]:
    """Start a fresh alpha/beta/gamma topology; every one is destroyed at the end."""
    created: list[Sandbox] = []

    def make() -> Sandbox:
        sandbox = Sandbox(tmp_path_factory.mktemp("mysql") / "sandbox")
        created.append(sandbox)
        sandbox.up()
        return sandbox

    yield make
    for sandbox in created:
        sandbox.destroy()


@pytest.fixture
def fresh(make_sandbox: MakeSandbox) -> Iterator[Sandbox]:
    """A topology of one's own, for tests that leave it changed for good."""
    sandbox = make_sandbox()
    yield sandbox
    sandbox.destroy()
