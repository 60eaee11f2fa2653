"""Answering a handshake with a close frame instead of an HTTP status.

Some handshakes must not go on but are not bad credentials either (a limit,
a token the database could not check): an HTTP 403 would tell the client to
give up, daphne's 500 tells it nothing. Accepting and closing at once gives
it a WebSocket close code it can act on (protocol.md's table).
"""

from __future__ import annotations


async def close_at_handshake(receive, send, code: int, reason: str) -> None:
    """Accept the pending handshake and close it at once with ``code`` and ``reason``."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the handshake was answered
    await send({"type": "websocket.accept"})
    # A plain int: autobahn refuses any other type, an IntEnum included.
    await send({"type": "websocket.close", "code": int(code), "reason": reason})
