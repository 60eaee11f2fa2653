"""Who is on the other end of a WebSocket handshake, and may they connect.

Rules (contract, "WebSocket /ws/notes/"):
- ``Authorization: Bearer <token>``: a valid token is the user; a bad one is refused.
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
from django.db import DatabaseError

from note.inbox import bearer_token, token_user
from notes_client.protocol import CloseCode
from realtime import metrics
from realtime.db import DatabaseBusy, run_in_db_thread
from realtime.handshake import close_at_handshake
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
        token, has_origin = _read_headers(scope)
        if token is None:
            if not has_origin:
                metrics.clients_cut_off.labels("no_origin_no_token").inc()
                log_event(
                    log, "ws_auth_failed", reason="no_origin_no_token", path=scope.get("path")
                )
                return await WebsocketDenier()(scope, receive, send)
            return await self.with_session(scope, receive, send)
        try:
            user = await run_in_db_thread(token_user)(token) if token else None
        except (DatabaseBusy, DatabaseError, TimeoutError) as exc:
            busy = isinstance(exc, DatabaseBusy)
            metrics.clients_cut_off.labels("database_busy" if busy else "database_error").inc()
            log_event(log, "ws_auth_unchecked", logging.WARNING, error=repr(exc))
            code = CloseCode.TRY_AGAIN_LATER if busy else CloseCode.SERVICE_RESTART
            return await close_at_handshake(
                receive, send, code, "could not check the token; resume"
            )
        if user is None:
            metrics.clients_cut_off.labels("bad_token").inc()
            log_event(log, "ws_auth_failed", reason="bad_token", path=scope.get("path"))
            return await WebsocketDenier()(scope, receive, send)
        scope = dict(scope, user=user, auth_method="token")
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
