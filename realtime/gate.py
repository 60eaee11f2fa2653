"""Who is on the other end of a WebSocket handshake, and may they connect.

Rules (contract, "WebSocket /ws/notes/"):
- ``Authorization: Bearer <token>``: a valid token is the user; a bad (or expired) one is refused.
- Else ``?ticket=<connect ticket>``: a one-use ticket is the user it was made for
  (``realtime.credentials``); a used or expired one is closed with ``REVOKED``.
- Otherwise the Django session cookie decides (anonymous when there is none).
- An ``Origin`` header must be an allowed origin, scheme and port included (``realtime.origins``).
- No ``Origin`` at all is only accepted with a valid token: browsers always send
  one, so a cookie-carrying handshake without it is not from our pages.
Refusal happens before accept, which daphne answers with HTTP 403.

A token that cannot be checked because the database failed, hung or is too
busy is not a bad token: that handshake is accepted and closed at once with
1012 (1013 when busy), so the client resumes later instead of giving up on
a 403 or seeing daphne's 500.
"""

from __future__ import annotations

import logging

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import WebsocketDenier

from note.inbox import bearer_token
from realtime import metrics
from realtime.credentials import (
    handshake_started,
    handshake_ticket,
    open_with_ticket,
    token_scope,
)
from realtime.handshake import DATABASE_TROUBLE, close_unchecked
from realtime.handshake_limits import UserLimits
from realtime.logs import log_event
from realtime.origins import OriginCheck

log = logging.getLogger(__name__)


class WebSocketGate:
    """ASGI middleware in front of the WebSocket router.

    Token handshakes skip the session stack entirely (one database lookup, no
    session or auth middleware); browser handshakes go through Channels'
    ``AuthMiddlewareStack`` behind the origin check.
    """

    def __init__(self, inner) -> None:
        inner = UserLimits(inner)  # once the user is known (issue 18)
        self.inner = inner
        self.with_token = OriginCheck(inner)
        self.with_session = OriginCheck(AuthMiddlewareStack(inner))

    async def __call__(self, scope, receive, send):
        # This frame lives as long as the socket: keep only what it needs.
        scope = handshake_started(scope)
        token, has_origin = _read_headers(scope)
        if token is None:
            ticket = handshake_ticket(scope)
            if ticket is not None:
                return await open_with_ticket(self.inner, scope, receive, send, ticket)
            if not has_origin:
                metrics.clients_cut_off.labels("no_origin_no_token").inc()
                log_event(
                    log, "ws_auth_failed", reason="no_origin_no_token", path=scope.get("path")
                )
                return await WebsocketDenier()(scope, receive, send)
            return await self.with_session(scope, receive, send)
        try:
            with_user = await token_scope(scope, token)
        except DATABASE_TROUBLE as exc:
            return await close_unchecked(receive, send, exc, "token")
        if with_user is None:
            metrics.clients_cut_off.labels("bad_token").inc()
            log_event(log, "ws_auth_failed", reason="bad_token", path=scope.get("path"))
            return await WebsocketDenier()(scope, receive, send)
        scope = with_user
        if not has_origin:
            return await self.inner(scope, receive, send)
        return await self.with_token(scope, receive, send)


def _read_headers(scope) -> tuple[str | None, bool]:
    """The bearer token (None: no Authorization header, '' malformed) and whether an Origin came."""
    token, has_origin = None, False
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            token = bearer_token(value.decode("latin-1"))
        elif name == b"origin":
            has_origin = True
    return token, has_origin
