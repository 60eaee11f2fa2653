"""The runtime of one server process: its hub, its publisher, and the order they stop in.

::

    async with Runtime() as runtime:   # a test, a server with ASGI lifespan
        ...

Under daphne, the runtime of the server's event loop starts with the first
request or socket (:func:`current_runtime`), and daphne's shutdown awaits
:meth:`Runtime.stop` before it cancels anything (``realtime.patches.shutdown_order``).
Stopping goes in this order, each step finished before the next:

1. new sockets are no longer taken: a handshake still arriving is accepted
   and closed at once with 1001, so its client reconnects to another process;
2. every open socket is closed with 1001 (going away): our clients resume at
   once with ``?after=<last id>``;
3. the sockets get ``GOING_AWAY_GRACE`` seconds to finish their closing
   handshakes, and the publisher sends what is queued (notes committed by
   this process just before);
4. the hub stops listening to the channel layer.

A process that only sends (a management command) has no hub: wrap its work
in :func:`publishing`, which hands every committed note to the layer before
the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from notes_client.protocol import CloseCode
from realtime import conf
from realtime.hub import Hub
from realtime.logs import log_event
from realtime.publisher import publisher

log = logging.getLogger(__name__)

# Time for close frames to be answered before the process goes on stopping.
GOING_AWAY_GRACE = 1.0
FLUSH_TIMEOUT = 2.0


class Runtime:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.hub = Hub(self.loop)
        # Held by a socket's replay while it reads a page (realtime.consumers).
        self.replay_slots = asyncio.Semaphore(conf.REPLAYS_AT_ONCE)
        self.accepting = True
        self._stopped = False

    async def start(self) -> None:
        # Notes committed in this process leave from this loop; after a failed
        # send, the publisher waits until the hub hears the stream again.
        publisher.bind(self.loop, stream_works=self.hub.hears_itself)
        await self.hub.start()

    async def stop(self, *, grace: float = GOING_AWAY_GRACE) -> None:
        """Stop in the order of the module docstring; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self.accepting = False
        count = len(self.hub.connections)
        await self.hub.close_all(CloseCode.GOING_AWAY, "server shutting down; resume")
        if count:
            log_event(log, "shutdown_closed_websockets", count=count, code=CloseCode.GOING_AWAY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.hub.empty.wait(), grace)
        await asyncio.to_thread(publisher.flush, FLUSH_TIMEOUT)
        await self.hub.stop()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop(grace=0)


_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Runtime]] = (
    weakref.WeakKeyDictionary()
)


async def current_runtime() -> Runtime:
    """The runtime of the running event loop, started on first use."""
    loop = asyncio.get_running_loop()
    starting = _runtimes.get(loop)
    if starting is None or (starting.done() and starting.exception() is not None):
        starting = _runtimes[loop] = loop.create_task(_start(loop))
    return await asyncio.shield(starting)


async def _start(loop: asyncio.AbstractEventLoop) -> Runtime:
    runtime = Runtime(loop)
    await runtime.start()
    return runtime


def running_runtime() -> Runtime | None:
    """The running loop's runtime if it has started, without starting one (shutdown)."""
    starting = _runtimes.get(asyncio.get_running_loop())
    if starting is None or not starting.done() or starting.exception() is not None:
        return None
    return starting.result()


async def stop_runtime() -> None:
    """Stop and forget this loop's runtime (tests, and servers with an ASGI lifespan)."""
    starting = _runtimes.pop(asyncio.get_running_loop(), None)
    if starting is not None and starting.done() and starting.exception() is None:
        await starting.result().stop(grace=0)


def open_connections() -> int:
    """WebSocket connections registered with this process's hubs (read by /metrics)."""
    total = 0
    for starting in list(_runtimes.values()):
        if starting.done() and not starting.cancelled() and starting.exception() is None:
            total += len(starting.result().hub.connections)
    return total


@contextmanager
def publishing(timeout: float = 5.0) -> Iterator[None]:
    """Around the work of a process that sends notes but serves no sockets (a command).

    Notes committed inside reach the channel layer before the block ends, so
    the process may exit right after it.
    """
    try:
        yield
    finally:
        publisher.flush(timeout=timeout)
