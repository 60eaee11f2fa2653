"""The credential a socket was opened with: a token, a session, or a connect ticket.

The gate (``realtime.gate``) calls :func:`open_with_token` and
:func:`open_with_ticket`; the consumer keeps :func:`socket_credential`'s answer
so the hub can re-check it when the user's credentials change
(``note.credentials``) and close the socket with ``CloseCode.REVOKED``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from note import inbox
from notes_client.protocol import CloseCode
from realtime import metrics, tokencache
from realtime.db import run_in_db_thread
from realtime.handshake import DATABASE_TROUBLE, close_at_handshake, close_unchecked
from realtime.logs import log_event

log = logging.getLogger(__name__)


def handshake_started(scope: dict[str, Any]) -> dict[str, Any]:
    """``scope`` with the loop time its handshake began, before any credential was read.

    A revocation the hub applies after this moment may have missed the
    socket (not yet registered): the consumer then checks its credential once
    more (``Hub.rechecked_since``); otherwise that read is saved.
    """
    return dict(scope, handshake_at=asyncio.get_running_loop().time())


def must_recheck(scope: dict[str, Any], hub, credential) -> bool:
    """Should a socket just registered with ``hub`` check its credential again?"""
    if credential is None:
        return False
    started = scope.get("handshake_at")
    return started is None or hub.rechecked_since(credential.user_key, started)


def handshake_ticket(scope: dict[str, Any]) -> str | None:
    """The ``?ticket=`` of a handshake, or None when it has none."""
    try:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket")
    except ValueError:
        return None
    return values[-1] if values else None


async def token_scope(scope: dict[str, Any], raw: str) -> dict[str, Any] | None:
    """``scope`` with the token's user and credential, or None for a bad, expired or
    revoked token: from the token cache (``realtime.tokencache``) when it may be
    believed, else one lookup on the database pool."""
    await _runtime_started()
    found = await tokencache.token_identity(raw, run_in_db_thread(inbox.token_authenticate))
    if found is None:
        return None
    user, credential = found
    return dict(scope, user=user, auth_method="token", credential=credential)


# How long a token handshake waits for its process's hub to start (and read the
# credential change log) before it is checked without the cache.
RUNTIME_WAIT_SECONDS = 1.0


async def _runtime_started() -> None:
    """Start this process's runtime if it has not started, and wait a little for it.

    The hub reads the change log as it starts, and until then nothing cached is
    believed: waiting lets a restarted process's first storm use the cache.
    Bounded, because the handshake is not accepted meanwhile; and a start that
    fails is the consumer's to report, not the token check's.
    """
    from realtime.runtime import current_runtime

    try:
        await asyncio.wait_for(current_runtime(), RUNTIME_WAIT_SECONDS)
    except Exception:  # TimeoutError included: the start goes on, shielded
        pass


async def open_with_ticket(inner, scope, receive, send, raw: str) -> None:
    """Redeem a connect ticket and hand the socket on as its user; a used, expired or
    unknown ticket is accepted and closed at once with ``REVOKED`` and a reason, so
    a client can tell it from a network failure and fetch a new ticket.

    No Origin check: a ticket is not ambient like a cookie (a page cannot make a
    browser send one it does not know), and it is what apps on other origins use.
    """
    try:
        redeemed = await run_in_db_thread(inbox.ticket_redeem)(raw)
    except DATABASE_TROUBLE as exc:
        return await close_unchecked(receive, send, exc, "ticket")
    if redeemed is None:
        metrics.clients_cut_off.labels("bad_ticket").inc()
        log_event(log, "ws_auth_failed", reason="bad_ticket", path=scope.get("path"))
        await close_at_handshake(receive, send, CloseCode.REVOKED, "ticket used or expired")
        return
    user, credential = redeemed
    await inner(dict(scope, user=user, auth_method="ticket", credential=credential), receive, send)


def socket_credential(scope: dict[str, Any]) -> inbox.Credential | None:
    """What the socket's access hangs on; None for an anonymous socket."""
    credential = scope.get("credential")
    if credential is not None:
        return credential
    user, session = scope.get("user"), scope.get("session")
    if user is None or not user.is_authenticated or session is None or not session.session_key:
        return None
    return inbox.Credential.of_session(user, session.session_key)
