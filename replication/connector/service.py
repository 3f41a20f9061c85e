"""The connector's listeners: the writer and reader ports, routing, holds and moves."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from replication.connector.auth import Accounts
from replication.connector.control import Registration, register
from replication.connector.packets import Greeting, parse_greeting
from replication.connector.session import NoPrimary, Session
from replication.connector.settings import READER_PROBE_INTERVAL, RECOVERY_POLL
from replication.connector.wire import Wire, WireClosed
from replication.errors import ReplicationError
from replication.probe import probe
from replication.topology import Server, Topology

log = logging.getLogger("lifeboat.connector")


class ConnectorError(ReplicationError):
    """The connector could not start (no server answered, a port is taken)."""


class Connector:
    """Applications connect here; sessions reach the primary (writer) or a replica (reader)."""

    def __init__(
        self,
        topology: Topology,
        home: Path,
        host: str | None = None,
        writer_port: int | None = None,
        reader_port: int | None = None,
    ) -> None:
        settings = topology.config.connector
        self.topology = topology
        self.home = home
        self.host = host or settings.host
        self.writer_port = settings.writer_port if writer_port is None else writer_port
        self.reader_port = settings.reader_port if reader_port is None else reader_port
        self.drain_limit = settings.drain_limit
        self.hold_timeout = settings.hold_timeout
        self.failover_wait = settings.failover_wait
        self.tls = topology.config.tls
        self.connect_timeout = topology.config.probe_timeout
        self.client_tls = _server_tls(settings.tls_cert, settings.tls_key)
        self.accounts = Accounts(topology)
        self.greeting: Greeting
        self.sessions: dict[int, Session] = {}
        self.primary: Server | None = None
        self.replicas: list[Server] = []
        self.holding = False
        self.draining_over = False
        self.kept = 0
        self.ended = 0
        self._next_id = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._released: asyncio.Event
        self._primary_known: asyncio.Event
        self._recovering: asyncio.Task[None] | None = None
        self._hold_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event
        self._error: BaseException | None = None
        self.registration: Registration | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Serve in a thread of its own; returns once the ports listen."""
        self._thread = threading.Thread(target=self._serve, name="lifeboat-connector", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        try:
            self.run()
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def run(self) -> None:
        """Serve in this thread until stop() (or SIGINT/SIGTERM in the main thread)."""
        try:
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(30)

    async def _main(self) -> None:
        self._released = asyncio.Event()
        self._released.set()
        self._primary_known = asyncio.Event()
        self._stopping = asyncio.Event()
        self.topology.connector_account  # noqa: B018 -- refuse to start without it, by name
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stopping.set)
        health = await loop.run_in_executor(None, lambda: probe(self.topology, heartbeat=False))
        self._learn(health)
        self.greeting = await self._greeting()
        writer = await self._listen(self.writer_port, "writer")
        reader = await self._listen(self.reader_port, "reader")
        self.writer_port = writer.sockets[0].getsockname()[1]
        self.reader_port = reader.sockets[0].getsockname()[1]
        control = await asyncio.start_server(self._control, "127.0.0.1", 0)
        self.registration = register(
            self.home,
            control.sockets[0].getsockname()[1],
            f"{self.host}:{self.writer_port}",
            f"{self.host}:{self.reader_port}",
        )
        probes = asyncio.create_task(self._watch_replicas())
        self._ready.set()
        log.info(
            "lifeboat connector: writer %s:%s -> %s, reader %s:%s -> %s",
            self.host,
            self.writer_port,
            self.primary.name if self.primary else "(no primary)",
            self.host,
            self.reader_port,
            ", ".join(s.name for s in self.replicas) or "-",
        )
        try:
            await self._stopping.wait()
        finally:
            probes.cancel()
            for task in [*self._tasks, self._recovering]:
                if task is not None:
                    task.cancel()
            self.registration.remove()
            for server in (writer, reader, control):
                server.close()
            for session in list(self.sessions.values()):
                session.close()

    async def _listen(self, port: int, role: str) -> asyncio.base_events.Server:
        loop = asyncio.get_running_loop()

        def made(wire: Wire) -> None:
            session = Session(self, wire, self._next_id, role)
            self._next_id += 1
            self.sessions[session.id] = session
            task = loop.create_task(session.serve())
            self._tasks.add(task)
            task.add_done_callback(
                lambda t: (self._tasks.discard(t), self.sessions.pop(session.id, None))
            )

        def factory() -> Wire:
            wire = Wire()
            wire.on_made = made
            return wire

        try:
            return await loop.create_server(factory, self.host, port, reuse_address=True)
        except OSError as exc:
            raise ConnectorError(
                f"the connector cannot listen on {self.host}:{port} for the {role} port: "
                f"{exc.strerror}. Choose another port (mysql.connector.{role}_port)."
            ) from None

    async def _greeting(self) -> Greeting:
        """How a server greets, to greet applications alike (version, capabilities)."""
        for server in [s for s in [self.primary, *self.topology.servers] if s is not None]:
            loop = asyncio.get_running_loop()
            try:
                _, wire = await asyncio.wait_for(
                    loop.create_connection(Wire, server.host, server.port), self.connect_timeout
                )
            except (OSError, TimeoutError):
                continue
            try:
                _, payload = await asyncio.wait_for(wire.read_packet(), self.connect_timeout)
                return parse_greeting(payload)
            except (OSError, TimeoutError, WireClosed):
                continue
            finally:
                wire.abort()
        raise ConnectorError("no server of the topology answered: the connector cannot start")

    def _learn(self, health: Any) -> None:
        if health.primary is not None:
            self.primary = self.topology.server(health.primary)
            self._primary_known.set()
        self.replicas = [
            self.topology.server(name)
            for name, s in health.servers.items()
            if name != health.primary
            and s.reachable
            and s.replica is not None
            and s.replica.running
            and (s.replica.seconds_behind or 0) <= health.lag_threshold
        ]

    async def _watch_replicas(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(READER_PROBE_INTERVAL)
            with contextlib.suppress(Exception):
                health = await loop.run_in_executor(
                    None, lambda: probe(self.topology, heartbeat=False)
                )
                primary = self.primary
                self._learn(health)
                if self.holding or self._recovering is not None:
                    self.primary = primary

    # -- routing -----------------------------------------------------------------------------

    async def target(self, role: str) -> Server:
        """The server a session of this role should use now (waiting for a primary if lost)."""
        replicas = [s for s in self.replicas if s != self.primary]
        if role == "reader" and replicas:
            counts = {s.name: 0 for s in replicas}
            for session in self.sessions.values():
                if session.role == "reader" and session.backend is not None:
                    name = session.backend.server.name
                    if name in counts:
                        counts[name] += 1
            return min(replicas, key=lambda s: counts[s.name])
        if self.primary is None:
            self._recover()
            try:
                await asyncio.wait_for(self._primary_known.wait(), self.failover_wait)
            except TimeoutError:
                raise NoPrimary(
                    f"no server has accepted writes for {self.failover_wait:g} s; run "
                    "`lifeboat ls`, and `lifeboat failover` if the primary is dead"
                ) from None
        await self._released.wait()
        assert self.primary is not None
        return self.primary

    def holds(self, session: Session) -> bool:
        """Whether a writer session must wait before its next command (a switch is running):
        at its transaction boundary, or anywhere once the drain limit is over."""
        return self.holding and (not session.in_trans or self.draining_over)

    def backend_lost(self, session: Session, server: Server) -> None:
        """A server session ended unasked: find out whether the primary is gone."""
        if session.role != "writer" or self.holding:
            return
        if self.primary is not None and server == self.primary:
            self.primary = None
            self._primary_known.clear()
            log.warning("lost the primary %s; looking for the primary", server.name)
            self._recover()

    def _recover(self) -> None:
        if self._recovering is None or self._recovering.done():
            self._recovering = asyncio.get_running_loop().create_task(self._find_primary())

    async def _find_primary(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.primary is None:
                try:
                    health = await loop.run_in_executor(
                        None, lambda: probe(self.topology, heartbeat=False)
                    )
                except Exception as exc:  # a probe that cannot run: try again shortly
                    log.warning("probe failed: %s", exc)
                else:
                    if health.primary is not None and self.primary is None:
                        self._learn(health)
                        log.info("the primary is %s", health.primary)
                        break
                await asyncio.sleep(RECOVERY_POLL)
        finally:
            self._recovering = None

    # -- switch ------------------------------------------------------------------------------

    def writers(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.role == "writer" and s.identity]

    async def hold(self, drain_limit: float) -> dict[str, int]:
        """Pause writer sessions at their next transaction boundary, for a switch."""
        self.holding = True
        self.draining_over = False
        self._released.clear()
        deadline = time.monotonic() + drain_limit
        while True:
            unsettled = [s for s in self.writers() if s.busy or s.in_trans]
            if not unsettled or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.001)
        self.draining_over = True
        for session in unsettled:
            session.doomed = True
        loop = asyncio.get_running_loop()
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._hold_timer = loop.call_later(self.hold_timeout, self._hold_expired)
        writers = self.writers()
        return {"held": len(writers) - len(unsettled), "in_transaction": len(unsettled)}

    def _pump_held(self) -> None:
        for session in list(self.sessions.values()):
            if session.held:
                session.pump()

    def _hold_expired(self) -> None:
        log.warning(
            "no switch released the sessions within %g s: releasing them to the primary",
            self.hold_timeout,
        )
        self._hold_timer = None
        self.primary = None
        self._primary_known.clear()
        task = asyncio.get_running_loop().create_task(self._release_to_found_primary())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release_to_found_primary(self) -> None:
        """After a switch that never released: wait for a primary, then move everyone there."""
        self._recover()
        try:
            await asyncio.wait_for(self._primary_known.wait(), self.failover_wait)
        except TimeoutError:
            self.holding = self.draining_over = False
            self._released.set()
            self._pump_held()
            return
        if self.holding and self.primary is not None:
            await self.release(self.primary)

    async def release(self, server: Server) -> dict[str, int]:
        """Move every writer session to `server` (the primary now) and let them go on."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self.primary = server
        self._primary_known.set()
        idle = [s for s in self.writers() if not s.busy]
        results = await asyncio.gather(*(s.move(server) for s in idle), return_exceptions=True)
        kept = sum(1 for r in results if r is True)
        ended = len(results) - kept
        for session in self.writers():
            if session.busy and session.backend is not None:
                session.backend.abort()  # it reattaches before its next command
        self.holding = False
        self.draining_over = False
        self._released.set()
        self._pump_held()
        self.kept += kept
        self.ended += ended
        log.info("sessions released to %s: %d kept, %d ended", server.name, kept, ended)
        return {"kept": kept, "ended": ended}

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One JSON request per line from a switch: hold, release or status."""
        try:
            while line := await reader.readline():
                reply = await self._answer(line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"error": "not JSON"}
        assert self.registration is not None
        if not hmac.compare_digest(str(request.get("token", "")), self.registration.token):
            return {"error": "wrong token"}
        op = request.get("op")
        if op == "hold":
            return await self.hold(float(request.get("drain_limit", self.drain_limit)))
        if op == "release":
            server = self.topology.by_address(request["host"], int(request["port"]))
            if server is None:
                server = Server(request.get("name", "?"), request["host"], int(request["port"]))
            return await self.release(server)
        if op == "status":
            return self.status()
        return {"error": f"unknown op {op!r}"}

    def status(self) -> dict[str, Any]:
        writers = self.writers()
        return {
            "pid": os.getpid(),
            "writer": f"{self.host}:{self.writer_port}",
            "reader": f"{self.host}:{self.reader_port}",
            "primary": self.primary.name if self.primary else None,
            "replicas": [s.name for s in self.replicas if s != self.primary],
            "writer_sessions": len(writers),
            "reader_sessions": len(self.sessions) - len(writers),
            "holding": self.holding,
            "kept": self.kept,
            "ended": self.ended,
        }


def _server_tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
