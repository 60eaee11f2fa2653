"""``asgi:application``, where a socket that asks for it has every note frame's send fail.

Served only by end-to-end tests of what one broken connection may cost the
others. A WebSocket handshake with the header ``X-Test-Failing-Send: note``
gets an ASGI ``send`` that raises for ``note`` frames (as a server layer in
trouble would); every other frame, and every other socket, is untouched.
Its ``send`` is not daphne's, so that socket takes the ASGI path, never the
direct write.
"""

from __future__ import annotations

from asgi import application as real_application

HEADER = b"x-test-failing-send"


class SendFailed(Exception):
    """What the failing ``send`` raises."""


async def application(scope, receive, send):
    if scope["type"] != "websocket" or (HEADER, b"note") not in scope.get("headers", ()):
        return await real_application(scope, receive, send)

    async def failing_send(message):
        if message.get("type") == "websocket.send" and (message.get("text") or "").startswith(
            '{"type":"note"'
        ):
            raise SendFailed("this socket's sends fail")
        await send(message)

    return await real_application(scope, receive, failing_send)
