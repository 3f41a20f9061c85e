"""An application logging in to the connector: greeting, optional TLS, the password's proof."""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from dataclasses import dataclass

from lifeboat.errors import LifeboatError
from replication.connector.auth import Accounts, recover_stage1
from replication.connector.backend import Identity
from replication.connector.packets import (
    Greeting,
    err_packet,
    frame,
    greeting_packet,
    is_ssl_request,
    parse_login,
)
from replication.connector.settings import (
    CLIENT_DEPRECATE_EOF,
    CLIENT_PLUGIN_AUTH,
    CLIENT_SESSION_TRACK,
    CLIENT_SSL,
    ER_ACCESS_DENIED,
    NATIVE_PASSWORD,
    OFFERED,
    SERVER_STATUS_AUTOCOMMIT,
)
from replication.connector.wire import Wire

log = logging.getLogger("lifeboat.connector")


def scramble() -> bytes:
    """20 printable random bytes: the challenge a password's proof answers."""
    return bytes(33 + secrets.randbelow(94) for _ in range(20))


def switch_request(challenge: bytes) -> bytes:
    """Ask for a mysql_native_password proof against `challenge` (AuthSwitchRequest)."""
    return b"\xfe" + NATIVE_PASSWORD.encode() + b"\x00" + challenge + b"\x00"


async def verify(accounts: Accounts, user: str, challenge: bytes, proof: bytes) -> bytes | None:
    """SHA1(password) when `proof` answers `challenge` for one of the user's stored hashes.

    An unknown user or a wrong proof reads the accounts again once (an account created a
    moment ago), at most once a second per name.
    """
    loop = asyncio.get_running_loop()
    for fresh in (False, True):
        stored = await loop.run_in_executor(None, accounts.lookup, user, fresh)
        for account in stored:
            if account.stored is None:
                continue
            stage1 = recover_stage1(challenge, proof, account.stored)
            if stage1 is not None:
                return stage1
    return None


@dataclass
class LoggedIn:
    identity: Identity
    database: str | None
    seq: int  # the sequence id of the client's last packet: the answer takes the next one
    deprecate_eof: bool
    client_tracks: bool


def denied(user: str, peer: str, with_password: bool) -> bytes:
    code, state = ER_ACCESS_DENIED
    using = "YES" if with_password else "NO"
    return err_packet(
        code, state, f"Access denied for user '{user}'@'{peer}' (using password: {using})"
    )


async def log_in(
    wire: Wire,
    server: Greeting,
    client_tls: ssl.SSLContext | None,
    session_id: int,
    accounts: Accounts,
    peer: str,
) -> LoggedIn | None:
    """Greet, take the handshake response (over TLS when asked), check the proof.

    Returns who logged in, or None once the refusal has been sent.
    """
    challenge = scramble()
    offered = OFFERED & server.capabilities | CLIENT_PLUGIN_AUTH
    if client_tls is not None:
        offered |= CLIENT_SSL
    greeting = Greeting(
        server.version,
        session_id,
        challenge,
        offered,
        server.charset,
        SERVER_STATUS_AUTOCOMMIT,
        NATIVE_PASSWORD,
    )
    wire.write(frame(greeting_packet(greeting), 0))
    seq, payload = await wire.read_packet()
    if is_ssl_request(payload) and client_tls is not None:
        await wire.start_tls(client_tls, server_side=True)
        seq, payload = await wire.read_packet()
    login = parse_login(payload)
    proof = login.auth
    if login.plugin not in ("", NATIVE_PASSWORD) or len(proof) not in (0, 20):
        wire.write(frame(switch_request(challenge), seq + 1))
        seq, proof = await wire.read_packet()
    try:
        stage1 = await verify(accounts, login.user, challenge, proof)
    except LifeboatError as exc:  # the accounts could not be read: say so, not "denied"
        log.error("session %s: cannot verify %r: %s", session_id, login.user, exc)
        message = f"lifeboat connector: cannot verify the account now: {exc}"
        wire.write(frame(err_packet(*ER_ACCESS_DENIED, message), seq + 1))
        return None
    if stage1 is None:
        wire.write(frame(denied(login.user, peer, bool(proof)), seq + 1))
        return None
    caps = login.capabilities & (offered | CLIENT_SSL)
    identity = Identity(login.user, stage1, login.charset, caps, login.max_packet, login.attrs)
    return LoggedIn(
        identity,
        login.database,
        seq,
        bool(caps & CLIENT_DEPRECATE_EOF),
        bool(caps & CLIENT_SESSION_TRACK),
    )
