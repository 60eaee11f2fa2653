"""Handshake limits: per address and per user a second, and open sockets per user.

``AddressLimits`` sits in front of the gate (``realtime.asgi``), so a storm of
bad tokens is held back before each costs a token query; ``UserLimits`` sits
behind authentication (``realtime.gate``), where the user is known. A refused
handshake is accepted and closed at once with ``CloseCode.RATE_LIMITED``
(4429) and a reason ending in ``retry after N s``: an HTTP 403 would tell a
client its credentials are bad, which they are not. The counts and their
settings are ``note.limits``' (``NOTES_LIMIT_*``).
"""

from __future__ import annotations

import asyncio
import logging

from note.inbox import Limited, acheck, scope_address, socket_acquire
from notes_client.protocol import CloseCode
from realtime import metrics
from realtime.handshake import close_at_handshake
from realtime.logs import log_event

log = logging.getLogger(__name__)

# Releases of socket slots in flight: a task that nobody holds may be collected.
_releasing: set[asyncio.Task] = set()


class AddressLimits:
    """ASGI middleware: counts the handshake against its client address."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        try:
            await acheck("HANDSHAKES_PER_ADDRESS", scope_address(scope))
        except Limited as exc:
            return await _refuse(exc, scope, receive, send)
        return await self.inner(scope, receive, send)


class UserLimits:
    """ASGI middleware: counts the user's handshake, holds a socket slot while the consumer runs.

    Anonymous handshakes have no user: the address limit alone holds them.
    """

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        user_id = user.pk if user is not None and user.is_authenticated else None
        try:
            await acheck("HANDSHAKES_PER_USER", user_id)
            release = await socket_acquire(user_id)
        except Limited as exc:
            return await _refuse(exc, scope, receive, send)
        if release is None:
            return await self.inner(scope, receive, send)
        try:
            return await self.inner(scope, receive, send)
        finally:
            # Also when daphne cancels the consumer: the slot goes back in a
            # task of its own, which that cancellation does not reach.
            task = asyncio.ensure_future(release())
            _releasing.add(task)
            task.add_done_callback(_releasing.discard)


async def _refuse(exc: Limited, scope, receive, send) -> None:
    metrics.clients_cut_off.labels(exc.limit).inc()
    log_event(log, "ws_limit", limit=exc.limit, path=scope.get("path"))
    await close_at_handshake(
        receive,
        send,
        CloseCode.RATE_LIMITED,
        f"rate limited: {exc.limit}; retry after {exc.retry_after} s",
    )
