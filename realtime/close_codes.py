"""Make daphne close WebSockets with the codes the contract promises.

Two things in daphne/autobahn stand in the way, and both are mended here,
once, by ``asgi.py`` before daphne serves anything:

1. daphne hands ``websocket.close`` to autobahn's ``sendClose``, which only takes
   1000 and 3000-4999 and raises for anything else, so the client would see
   1011 instead of 1008 (policy), 1009 (too big), 1001 (going away) or 1012
   (restart). autobahn's ``sendCloseFrame`` sends any code; the server-side
   codes RFC 6455 defines go through it.
2. autobahn's factories default to ``failByDrop=True``: a message over the size
   limit (or a protocol violation) drops the TCP connection without a close
   frame. We turn that off per connection, so the client gets 1009 (or 1002),
   and apply our frame limit (``WS_MAX_FRAME_BYTES``) whatever limit daphne was
   started with, so it is enforced before the message is buffered.
3. A frame sent after the client closed (an answer still on its way when the
   client hung up) raises autobahn's ``Disconnected`` inside the consumer and
   daphne logs a traceback; such frames are dropped instead (found by
   ``tests/e2e/test_fuzz.py``).
4. Every write is followed by the output cap's check (``realtime.backpressure``),
   autobahn's pongs included.
5. daphne pings a socket only when no data frame came for ``ping_interval``,
   and any data frame cancels a pending ping's timeout: a client that sends
   frames but never reads stayed open forever. Here daphne pings every
   ``ping_interval`` whatever arrives, and only the pong clears it.
"""

from __future__ import annotations

from notes_client.protocol import MAX_FRAME_BYTES, CloseCode

# The codes RFC 6455 defines (under 3000) that we send go out through
# ``sendCloseFrame`` (point 1); autobahn's ``sendClose`` takes our own (4xxx).
SERVER_CODES = frozenset(code for code in CloseCode if code < 3000)


def install() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    if getattr(WebSocketProtocol, "_realtime_close_codes", False):
        return
    from realtime.backpressure import check_output

    original_handle_reply = WebSocketProtocol.handle_reply
    original_on_connect = WebSocketProtocol.onConnect
    original_on_message = WebSocketProtocol.onMessage
    original_send_data = WebSocketProtocol.sendData

    def handle_reply(self, message):
        if message.get("type") in ("websocket.send", "websocket.close") and self.state in (
            self.STATE_CLOSING,
            self.STATE_CLOSED,
        ):
            return  # the peer is gone or going: nothing more can reach it (point 3)
        if message.get("type") == "websocket.close" and self.state == self.STATE_OPEN:
            code = message.get("code") or CloseCode.NORMAL
            if code in SERVER_CODES:
                reason = (message.get("reason") or "").encode()[:123]
                self.sendCloseFrame(code=code, reasonUtf8=reason, isReply=False)
                return
        return original_handle_reply(self, message)

    def send_data(self, data, sync=False, chopsize=None):
        original_send_data(self, data, sync, chopsize)
        check_output(self)

    def on_message(self, payload, isBinary):
        last_ping = self.last_ping
        original_on_message(self, payload, isBinary)
        self.last_ping = last_ping  # point 5

    def on_connect(self, request):
        self.failByDrop = False
        self.autoPingRestartOnAnyTraffic = False
        limit = MAX_FRAME_BYTES
        for option in ("maxMessagePayloadSize", "maxFramePayloadSize"):
            current = getattr(self, option, 0)
            if current == 0 or current > limit:
                setattr(self, option, limit)
        return original_on_connect(self, request)

    WebSocketProtocol.handle_reply = handle_reply
    WebSocketProtocol.onConnect = on_connect
    WebSocketProtocol.onMessage = on_message
    WebSocketProtocol.sendData = send_data
    WebSocketProtocol._realtime_close_codes = True
