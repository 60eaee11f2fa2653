"""The broadcast fast path: a note's frame bytes written straight to daphne's transport.

Through the ASGI send, every socket of a broadcast pays for the consumer's
send coroutine, daphne's ``handle_reply``, encoding the text to UTF-8 again,
autobahn framing it again (and building the arguments of a debug log line
that is then dropped), before Twisted's ``transport.write``. The frame bytes
are the same for every reader of one language, so the hub builds them once
(:class:`realtime.frames.NoteFrames`) and each socket does only the write.

This is what autobahn's own ``prepareMessage``/``sendPreparedMessage`` is for;
we skip its wrapper too because of that debug line. It applies only when the
connection is daphne's (the ASGI ``send`` is daphne's ``handle_reply`` bound to
its protocol), open, without compression and with nothing in autobahn's send
queue; anything else (another server, the test communicator, a closing
socket) takes the ordinary ASGI send. Both end in the same ``transport.write``
in call order, so frames on one socket never overtake each other.

No upstream issue: autobahn's prepared messages are the public form of this,
and what it costs beside them is measured in docs/performance.md. With the
patch off (another release) every frame takes the ASGI send, which
``realtime_connections_accepted{writer="asgi"}`` shows.
"""

from __future__ import annotations

from typing import Any

from realtime.patches.connection import daphne_connection
from realtime.patches.output_cap import check_output
from realtime.patches.versions import AUTOBAHN, DAPHNE, TWISTED

CHECKED = {"daphne": DAPHNE, "twisted": TWISTED, "autobahn": AUTOBAHN}
INSTALLED = False


def install() -> None:
    """Nothing to change in the libraries: writers are handed out from now on."""
    global INSTALLED
    INSTALLED = True


class DirectWriter:
    """Writes whole frames to one daphne WebSocket, or says it cannot."""

    __slots__ = ("protocol", "transport")

    def __init__(self, protocol: Any, transport: Any) -> None:
        self.protocol = protocol
        self.transport = transport

    def usable(self) -> bool:
        """Does this Twisted and autobahn release still have the state ``write`` reads?

        Asked once per connection, so that a release that renamed it shows in
        ``realtime_connections_accepted{writer="asgi"}`` instead of only in the bench.
        """
        protocol, transport = self.protocol, self.transport
        names = ("state", "STATE_OPEN", "send_queue", "_perMessageCompress")
        state = ("connected", "disconnecting", "_writeDisconnected", "_tempDataLen", "offset")
        return all(hasattr(protocol, n) for n in names) and all(
            hasattr(transport, n) for n in (*state, "dataBuffer", "writeSomeData")
        )

    def write(self, frame: bytes) -> bool:
        """Write ``frame``; False when the caller must use the ASGI send instead."""
        protocol = self.protocol
        try:  # autobahn's private state: if a release renames it, take the ASGI send
            if (
                protocol.state != protocol.STATE_OPEN
                or protocol.transport is not self.transport
                or protocol.send_queue
                or protocol._perMessageCompress is not None
            ):
                return False
        except AttributeError:
            return False
        _send_now(self.transport, frame)
        check_output(protocol)
        return True


def _send_now(transport: Any, frame: bytes) -> None:
    """Twisted's ``transport.write``, minus the trip through the event loop when it can.

    ``write`` only buffers: it registers the socket for writability (an
    ``epoll_ctl``), the next loop iteration sends, and then unregisters it
    (another ``epoll_ctl``). Per socket of a broadcast that was half of the
    server's CPU (py-spy, 1,000 sockets: ``add_writer``/``remove_writer`` and
    the selector's bookkeeping against 40 % for ``send`` itself). When
    nothing is buffered we send at once with Twisted's own ``writeSomeData``
    (what ``doWrite`` would call); whatever the kernel does not take, and any
    error, goes through ``write`` as before, so order and error handling are
    Twisted's.
    """
    try:  # Twisted's private state: if a release renames it, take the plain write
        idle = (
            transport.connected
            and not transport.disconnecting
            and not transport._writeDisconnected
            and not transport._tempDataLen
            and transport.offset == len(transport.dataBuffer)
        )
    except AttributeError:
        idle = False
    if idle:
        sent = transport.writeSomeData(frame)
        if isinstance(sent, int) and sent >= 0:
            if sent == len(frame):
                return
            frame = frame[sent:]
    transport.write(frame)


def direct_writer(send: Any) -> DirectWriter | None:
    """A writer for the connection behind the ASGI ``send`` when daphne serves it over plain TCP."""
    connection = daphne_connection(send) if INSTALLED else None
    if connection is None:
        return None
    writer = DirectWriter(*connection)
    return writer if writer.usable() else None
