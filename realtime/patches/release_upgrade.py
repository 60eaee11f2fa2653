"""Let go of the HTTP request a daphne WebSocket was upgraded from.

Measured, not reported upstream: daphne's WebSocket keeps Twisted's
``HTTPChannel`` registered as its transport's producer, and with it daphne's
``WebRequest``, for the socket's whole life (docs/performance.md, memory per
idle connection). ``tests/e2e/test_daphne_connection.py`` counts the live
requests inside a real daphne.
"""

from __future__ import annotations

from typing import Any

from realtime.patches.connection import daphne_connection
from realtime.patches.versions import DAPHNE, TWISTED

CHECKED = {"daphne": DAPHNE, "twisted": TWISTED}
INSTALLED = False


def install() -> None:
    """Nothing to change in the libraries: accepted sockets are released from now on."""
    global INSTALLED
    INSTALLED = True


def release_upgrade(send: Any) -> None:
    """Let go of the HTTP request a daphne WebSocket was upgraded from (call once accepted).

    Daphne hands the TCP transport from Twisted's ``HTTPChannel`` to the
    WebSocket protocol, but the channel stays registered as the transport's
    producer, and through its request queue keeps daphne's ``WebRequest``
    (request and response headers, the body buffer) alive as long as the
    socket: 1.7 KB of resident memory and 21 of the 87 objects the garbage
    collector tracks per idle connection (1,000 sockets), in reference cycles
    that only a full collection frees once the socket closes.
    The channel is inert by then: the upgrade request never finishes, so
    its timeout stays off and its pause and resume do nothing, and its
    ``stopProducing`` has no request producer to stop. Unregistering it (the
    transport's public ``IConsumer`` API) changes nothing but what is kept.
    """
    from twisted.web.http import HTTPChannel

    connection = daphne_connection(send) if INSTALLED else None
    if connection is None:
        return
    _, transport = connection
    channel = getattr(transport, "producer", None)
    if not isinstance(channel, HTTPChannel):
        return
    transport.unregisterProducer()
    requests = getattr(channel, "requests", None)
    if isinstance(requests, list):
        requests.clear()  # breaks the request <-> channel cycle: both go by reference count
