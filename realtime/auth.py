"""Who is on the other end of a WebSocket handshake, and may they connect.

Rules (contract, "WebSocket /ws/notes/"):
- ``Authorization: Bearer <token>``: a valid token is the user; a bad one is refused.
- Otherwise the Django session cookie decides (anonymous when there is none).
- An ``Origin`` header must name an allowed host (Channels' ``AllowedHostsOriginValidator``).
- No ``Origin`` at all is only accepted with a valid token: browsers always send
  one, so a cookie-carrying handshake without it is not from our pages.
Refusal happens before accept, which daphne answers with HTTP 403.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier

from realtime.tokens import bearer_token, token_user

log = logging.getLogger(__name__)


class WebSocketGate:
    """ASGI middleware; sits inside ``AuthMiddlewareStack`` so it can replace the session user."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.with_origin_check = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", ()))
        raw = headers.get(b"authorization")
        token = bearer_token(raw.decode("latin-1")) if raw is not None else None
        if token is not None:
            user = await database_sync_to_async(token_user)(token) if token else None
            if user is None:
                log.info("ws_auth_failed reason=bad_token path=%s", scope.get("path"))
                return await WebsocketDenier()(scope, receive, send)
            scope = dict(scope, user=user, auth_method="token")
            if b"origin" not in headers:
                return await self.inner(scope, receive, send)
        elif b"origin" not in headers:
            log.info("ws_auth_failed reason=no_origin_no_token path=%s", scope.get("path"))
            return await WebsocketDenier()(scope, receive, send)
        return await self.with_origin_check(scope, receive, send)
