"""A real topology with the lifeboat connector in front of it, and switches that drive it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from replication.connector.control import ConnectorSessions
from replication.connector.service import Connector
from replication.failover import failover
from replication.probe import probe
from replication.sandbox import Sandbox
from replication.switch import SwitchReport, switch
from replication.topology import Account, Topology
from tests.replication.conftest import MakeSandbox

# How long replicas may take to notice that a killed primary is gone.
NOTICE_SECONDS = 30.0


@dataclass
class Connected:
    """A sandbox, the connector serving it, and the data home they share."""

    sandbox: Sandbox
    connector: Connector
    home: Path

    @property
    def topology(self) -> Topology:
        return self.sandbox.topology()

    @property
    def host(self) -> str:
        return self.connector.host

    @property
    def writer_port(self) -> int:
        return self.connector.writer_port

    @property
    def reader_port(self) -> int:
        return self.connector.reader_port

    @property
    def app(self) -> Account:
        """The application account (all rights on the `app` schema)."""
        return self.sandbox.account("app")

    def sessions(self) -> ConnectorSessions:
        return ConnectorSessions(self.home)

    def switch(self, to: str | None = None) -> SwitchReport:
        """A planned switch that holds and moves the connector's sessions, as the CLI does."""
        return switch(self.topology, to=to, out=lambda _: None, sessions=self.sessions())

    def failover(self) -> SwitchReport:
        """Fail over once the replicas have noticed their primary is gone, as a person would.

        A replica's receiver takes a moment to see a killed source; until then lifeboat
        refuses (the primary might be alive for it).
        """
        topology = self.topology
        deadline = time.monotonic() + NOTICE_SECONDS
        while True:
            health = probe(topology, heartbeat=False)
            dead = health.expected_primary
            receiving = [
                name
                for name, s in health.servers.items()
                if s.reachable and s.source == dead and s.replica and s.replica.io_running == "Yes"
            ]
            if not receiving or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return failover(topology, yes=True, out=lambda _: None, sessions=self.sessions())


@pytest.fixture
def connected(make_sandbox: MakeSandbox) -> Iterator[Connected]:
    """A topology of one's own (alpha primary) with a connector on free ports before it."""
    sandbox = make_sandbox()
    home = sandbox.root.parent
    connector = Connector(
        sandbox.topology(), home=home, host="127.0.0.1", writer_port=0, reader_port=0
    )
    connector.start()
    try:
        yield Connected(sandbox, connector, home)
    finally:
        connector.stop()
        sandbox.destroy()
