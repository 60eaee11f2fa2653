"""daphne's keepalive ping is answered or the socket goes, whatever the client sends.

daphne pings a socket only after ``ping_interval`` without a data frame from
it, and autobahn cancels a pending ping's timeout on any data frame
(``autoPingRestartOnAnyTraffic``, crossbario/autobahn-python#1327). So a
client that kept sending frames but never read was never asked for a pong
and stayed open forever, its unread output growing (django/daphne#170). Here
daphne pings every ``ping_interval`` (data frames no longer reset its timer),
and only the matching pong clears the ping: a client that does not read is
dropped within ``ping_interval + ping_timeout``.
"""

from __future__ import annotations

from realtime.patches.versions import AUTOBAHN, DAPHNE

CHECKED = {"daphne": DAPHNE, "autobahn": AUTOBAHN}


def install() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    original_on_connect = WebSocketProtocol.onConnect
    original_on_message = WebSocketProtocol.onMessage

    def on_connect(self, request):
        self.autoPingRestartOnAnyTraffic = False
        return original_on_connect(self, request)

    def on_message(self, payload, isBinary):
        last_ping = self.last_ping
        original_on_message(self, payload, isBinary)
        self.last_ping = last_ping

    WebSocketProtocol.onConnect = on_connect
    WebSocketProtocol.onMessage = on_message
