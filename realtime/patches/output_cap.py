"""How much a WebSocket may owe its client: the output cap, and waiting for a socket to drain.

Twisted never refuses a write: what the kernel does not take waits in the
transport's buffer, in our process, for as long as the client does not read
(daphne has no flow control for WebSockets: django/daphne#170).
A client that pings (or asks for a long replay) and never reads would grow
that buffer without end. So:

- every write to a daphne WebSocket (ours, and autobahn's own pongs) is
  followed by a look at the transport's buffer; past ``WS_MAX_BUFFER_BYTES``
  the socket is closed with 1013 (try again later) and, if the client has not
  read its way to that close frame within ``OVERFLOW_GRACE`` seconds, the TCP
  connection is aborted. Nothing is lost: the client resumes with ``?after=``;
- a replay waits for the buffer to drain below ``DRAIN_LOW_WATER`` before each
  note, so a slow reader gets its history at its own pace instead of all at once.

The buffer size is read from Twisted's private state (``dataBuffer``,
``offset``, ``_tempDataLen``, which ``direct_write`` also reads). With the
patch off (another release), nothing is capped and a replay does not wait.
"""

from __future__ import annotations

import asyncio
from typing import Any

from notes_client.protocol import CloseCode
from realtime import conf, metrics
from realtime.patches.versions import AUTOBAHN, TWISTED

CHECKED = {"autobahn": AUTOBAHN, "twisted": TWISTED}
INSTALLED = False  # set by install(); without it nothing is capped and nothing waits

# A client that has not read its way to our close frame by then is not reading.
OVERFLOW_GRACE = 5.0
# A replay sends its next note once less than this is waiting for the client.
DRAIN_LOW_WATER = 64 * 1024
# How often a waiting replay looks again: at once (Twisted flushes its buffer
# to the kernel on the loop's next turn, so a client that reads is usually
# drained by then), then twice as long each time up to the longest wait. A
# fixed 50 ms sleep made a resume of 1,000 notes to a fast client wait
# about four times: 113 -> 200 ms (bench plan F).
DRAIN_FIRST_POLL_SECONDS = 0.001
DRAIN_POLL_SECONDS = 0.05


def install() -> None:
    """Check the cap after every write autobahn makes (our frames, its pongs, close frames)."""
    global INSTALLED
    from daphne.ws_protocol import WebSocketProtocol

    original_send_data = WebSocketProtocol.sendData

    def send_data(self, data, sync=False, chopsize=None):
        original_send_data(self, data, sync, chopsize)
        check_output(self)

    WebSocketProtocol.sendData = send_data
    INSTALLED = True


def buffered_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` that the kernel has not taken yet (0 if unknown)."""
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except (AttributeError, TypeError):
        return 0


def check_output(protocol: Any) -> None:
    """After a write to daphne's ``protocol``: close it if its client owes too much."""
    transport = protocol.transport
    if transport is None or buffered_bytes(transport) <= conf.WS_MAX_BUFFER_BYTES:
        return
    if getattr(protocol, "_realtime_overflowed", False):
        return
    protocol._realtime_overflowed = True
    metrics.clients_cut_off.labels("slow_reader").inc()
    if protocol.state == protocol.STATE_OPEN:
        protocol.sendCloseFrame(
            code=CloseCode.TRY_AGAIN_LATER, reasonUtf8=b"too far behind; resume", isReply=False
        )
    from twisted.internet import reactor

    reactor.callLater(OVERFLOW_GRACE, _abort, transport)


def _abort(transport: Any) -> None:
    if transport.connected and not getattr(transport, "disconnected", False):
        transport.abortConnection()


async def drained(protocol: Any | None, *, within: float) -> bool:
    """Wait until ``protocol``'s client has read all but ``DRAIN_LOW_WATER`` bytes.

    False when it has not within ``within`` seconds, or the connection went;
    True at once for a socket that is not daphne's (nothing to measure).
    """
    if protocol is None or not INSTALLED:
        return True
    deadline = asyncio.get_running_loop().time() + within
    delay = 0.0
    while True:
        transport = protocol.transport
        if transport is None or not transport.connected:
            return False
        if buffered_bytes(transport) <= DRAIN_LOW_WATER:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(max(delay * 2, DRAIN_FIRST_POLL_SECONDS), DRAIN_POLL_SECONDS)
