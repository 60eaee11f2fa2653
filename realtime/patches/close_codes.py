"""daphne closes with the codes the contract promises (1001, 1008, 1009, 1012, 1013).

daphne hands ``websocket.close`` to autobahn's ``sendClose``, which takes only
1000 and 3000-4999 and raises for anything else, so the client saw 1011
instead (upstream: django/daphne#374, crossbario/autobahn-python#1642).
autobahn's ``sendCloseFrame`` sends any code: the server-side codes RFC 6455
defines go through it.

Also: a frame sent after the client closed (an answer still on its way when
the client hung up) raised autobahn's ``Disconnected`` inside the consumer and
daphne logged a traceback; such frames are dropped (found by
``tests/e2e/test_fuzz.py``).

And: daphne's ``serverClose`` drops a close's ``reason``; ours carry it
(``RATE_LIMITED`` says in it how long to wait).
"""

from __future__ import annotations

from notes_client.protocol import CloseCode
from realtime.patches.versions import AUTOBAHN, DAPHNE

CHECKED = {"daphne": DAPHNE, "autobahn": AUTOBAHN}
# The codes RFC 6455 defines (under 3000) that we send go out through
# ``sendCloseFrame``; autobahn's ``sendClose`` takes our own (4xxx).
SERVER_CODES = frozenset(int(code) for code in CloseCode if code < 3000)


def install() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    original_handle_reply = WebSocketProtocol.handle_reply

    def handle_reply(self, message):
        if message.get("type") in ("websocket.send", "websocket.close") and self.state in (
            self.STATE_CLOSING,
            self.STATE_CLOSED,
        ):
            return  # the peer is gone or going: nothing more can reach it
        if message.get("type") == "websocket.close" and self.state == self.STATE_OPEN:
            code = message.get("code") or CloseCode.NORMAL
            if code in SERVER_CODES:
                reason = (message.get("reason") or "").encode()[:123]
                self.sendCloseFrame(code=code, reasonUtf8=reason, isReply=False)
                return
            if message.get("reason"):
                # daphne drops the reason of the others; RATE_LIMITED's says
                # how long to wait.
                self.sendClose(
                    code=code, reason=message["reason"].encode()[:123].decode(errors="ignore")
                )
                return
        return original_handle_reply(self, message)

    WebSocketProtocol.handle_reply = handle_reply
