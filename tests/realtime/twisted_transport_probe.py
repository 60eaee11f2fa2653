"""Run by ``test_patches.py`` in its own process: what the patches assume of Twisted's transport.

A real listening socket and a client that does not read until told to. The
server writes more than the kernel takes, so Twisted queues the rest; then the
direct-write path and the output cap look at the queue. Prints one JSON line.
"""

from __future__ import annotations

import json
import socket
import sys

from twisted.internet import protocol, reactor

from realtime.patches.direct_write import _send_now
from realtime.patches.output_cap import buffered_bytes

BULK = b"x" * (8 * 1024 * 1024)
FIRST = b"<first: written while all of BULK waited in Twisted's write buffer>"
SECOND = b"<second: written once Twisted had sent part of BULK>"
report: dict[str, object] = {}


class Server(protocol.Protocol):
    def connectionMade(self) -> None:
        transport = self.transport
        report["idle_before"] = buffered_bytes(transport)
        transport.write(BULK)  # more than the socket buffers hold: Twisted keeps the rest
        report["queued_after_write"] = buffered_bytes(transport)
        _send_now(transport, FIRST)  # must go behind the queued bytes, never before
        reactor.callLater(0.2, self.after_some_sent)

    def after_some_sent(self) -> None:
        report["queued_after_partial_send"] = buffered_bytes(self.transport)
        _send_now(self.transport, SECOND)
        reactor.callInThread(read_all, self.transport)


def read_all(transport) -> None:
    received = bytearray()
    expected = BULK + FIRST + SECOND
    while len(received) < len(expected):
        chunk = client.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    report["in_order"] = bytes(received) == expected
    reactor.callFromThread(finish, transport)


def finish(transport) -> None:
    report["drained"] = buffered_bytes(transport)
    reactor.stop()


factory = protocol.Factory.forProtocol(Server)
port = reactor.listenTCP(0, factory, interface="127.0.0.1")
client = socket.socket()
client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
client.connect(("127.0.0.1", port.getHost().port))
reactor.callLater(20, reactor.stop)
reactor.run()
json.dump(report, sys.stdout)
