"""Graceful shutdown: on SIGTERM, tell every open WebSocket to come back.

daphne stops by cancelling its application coroutines and dropping the TCP
connections, so clients see 1006 (abnormal closure) and cannot tell a
deploy from a crash. Before that, we close each socket with 1001 (going
away); our clients (the page, ``notes-listen``) reconnect at once with
``?after=<last id>`` and lose nothing.

The trigger is registered with Twisted's reactor when ``asgi.py`` is imported,
which under daphne is before daphne registers its own shutdown trigger, so
our close frames are written before the coroutines are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from notes_client.protocol import CloseCode
from realtime.logs import log_event

log = logging.getLogger(__name__)

# Time for close frames to be written and answered before daphne drops the sockets.
GOING_AWAY_GRACE = 1.0


def install() -> None:
    """Register the going-away trigger when running under daphne (no-op otherwise)."""
    if "twisted.internet.reactor" not in sys.modules:
        return  # not daphne: importing the reactor here would install the wrong one
    from twisted.internet import defer, reactor

    if getattr(reactor, "_realtime_going_away", False):
        return
    reactor._realtime_going_away = True

    def going_away():
        loop = asyncio.get_event_loop()
        return defer.Deferred.fromFuture(asyncio.ensure_future(_close_all(), loop=loop))

    reactor.addSystemEventTrigger("before", "shutdown", going_away)


async def _close_all() -> None:
    from realtime.hub import running_hub

    hub = running_hub()
    if hub is None or not hub.connections:
        return
    count = len(hub.connections)
    await hub.close_all(CloseCode.GOING_AWAY, "server shutting down; resume")
    log_event(log, "shutdown_closed_websockets", count=count, code=CloseCode.GOING_AWAY)
    await asyncio.sleep(GOING_AWAY_GRACE)
