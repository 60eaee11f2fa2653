"""A client frame over 64 KiB closes with 1009 (or a protocol violation with 1002), not a drop.

autobahn's factories default to ``failByDrop=True``: a message over the size
limit dropped the TCP connection without a close frame, so the client could
not tell why. Turned off per connection, the client gets 1009. Our limit
(the protocol's ``MAX_FRAME_BYTES``) applies whatever limit daphne was
started with, and is enforced before the message is buffered. No upstream
issue: daphne passes its own options to autobahn unchanged.
"""

from __future__ import annotations

from realtime.patches.versions import AUTOBAHN, DAPHNE

CHECKED = {"daphne": DAPHNE, "autobahn": AUTOBAHN}


def install() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    from notes_client.protocol import MAX_FRAME_BYTES

    original_on_connect = WebSocketProtocol.onConnect

    def on_connect(self, request):
        self.failByDrop = False
        for option in ("maxMessagePayloadSize", "maxFramePayloadSize"):
            current = getattr(self, option, 0)
            if current == 0 or current > MAX_FRAME_BYTES:
                setattr(self, option, MAX_FRAME_BYTES)
        return original_on_connect(self, request)

    WebSocketProtocol.onConnect = on_connect
