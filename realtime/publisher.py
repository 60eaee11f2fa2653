"""Handing committed events to the channel layer without ever making a request wait.

``note`` sends ``notes_committed`` and ``unread_changed`` after commit, and
``realtime.receivers`` hands them to :func:`publish_notes` and
:func:`publish_unread`. They only put the event on a queue; one sender task
sends the queue in order. In a server process the sender runs on the server's
event loop (bound by the hub at start-up); elsewhere (``manage.py post_news``,
a shell) it runs on a private thread, flushed at exit.

If the layer fails (Redis down, a blip), the error is logged and the event
stays at the head of the queue; the sender tries it again with back-off and
then goes on in order. What waits is bounded (``QUEUE_LIMIT``): when full,
the oldest note event makes room, because every server's hub reads notes the
layer did not bring from the database (``realtime.hub``), whereas an unread
count or a logout exists nowhere else. Dropping the whole queue on one failed
send lost those: a logout during a Redis blip left the session's sockets
open (issue 19). In a server process, the sender first waits after a failure
until its own hub hears the stream again (``Hub.hears_itself``): a
pub/sub layer takes sends before its listeners have subscribed again, and
what is sent meanwhile reaches nobody.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from note import inbox
from realtime import events, metrics
from realtime.layer import notes_layer
from realtime.logs import log_event

log = logging.getLogger(__name__)

SEND_TIMEOUT = 2.0
QUEUE_LIMIT = 10_000
RETRY_FIRST = 0.25
RETRY_MAX = 5.0


class Publisher:
    """One ordered queue of outgoing layer events per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: _Outbox | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._stream_works: Callable[..., Awaitable[bool]] | None = None

    def bind(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        stream_works: Callable[..., Awaitable[bool]] | None = None,
    ) -> None:
        """Send from the server's event loop (called by the runtime when it starts).

        ``stream_works(within=seconds)`` tells whether the layer carries events
        to this process's listener again; it is asked after a failed send.
        """
        with self._lock:
            self._stream_works = stream_works
            if self._loop is loop:
                return
            self._loop = loop
            self._queue = None
        loop.call_soon_threadsafe(self._start_sender, loop)

    def submit(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for the layer; returns at once, from any thread."""
        with self._lock:
            loop = self._loop
            if loop is None or loop.is_closed():
                loop = self._loop = self._start_thread()
            self._pending += 1
        loop.call_soon_threadsafe(self._enqueue, loop, event)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted has been sent or dropped (used at exit)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _start_thread(self) -> asyncio.AbstractEventLoop:
        # A queue left by a loop that has closed (a test's) has no sender: start afresh.
        # No hub listens in this thread's process (a command): nothing to wait for.
        self._queue = None
        self._stream_works = None
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True)
        thread.start()
        loop.call_soon_threadsafe(self._start_sender, loop)
        atexit.register(self.flush)
        return loop

    def _start_sender(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._queue is None:
            self._queue = _Outbox()
            loop.create_task(self._send_forever(self._queue), name="realtime-publisher")

    def _enqueue(self, loop: asyncio.AbstractEventLoop, event: dict[str, Any]) -> None:
        self._start_sender(loop)
        assert self._queue is not None
        if len(self._queue.events) >= QUEUE_LIMIT:
            # A note waiting is dropped for the newcomer; failing that, the newcomer.
            dropped = self._queue.drop_oldest_note() or event
            log_event(log, "layer_queue_full", logging.WARNING, dropped=dropped["type"])
            self._done(1)
            if dropped is event:
                return
        self._queue.put(event)

    async def _send_forever(self, queue: _Outbox) -> None:
        retry_in = RETRY_FIRST
        failing = False
        while True:
            event = await queue.head()
            try:
                if failing and self._stream_works is not None:
                    if not await self._stream_works(within=SEND_TIMEOUT):
                        raise ConnectionError("the stream does not carry events back yet")
                layer = notes_layer()  # looked up each time: tests swap layers
                await asyncio.wait_for(layer.group_send(events.GROUP, event), SEND_TIMEOUT)
            except Exception as exc:
                failing = True
                metrics.layer_errors.labels("send").inc()
                log_event(
                    log,
                    "layer_send_failed",
                    logging.WARNING,
                    error=repr(exc),
                    waiting=len(queue.events),
                    retry_in=retry_in,
                )
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, RETRY_MAX)
                continue
            retry_in = RETRY_FIRST
            failing = False
            queue.events.popleft()
            self._done(1)

    def _done(self, count: int) -> None:
        if count:
            with self._idle:
                self._pending -= count
                self._idle.notify_all()


class _Outbox:
    """The events waiting for the layer, oldest first, with a wake-up for the sender."""

    def __init__(self) -> None:
        self.events: deque[dict[str, Any]] = deque()
        self._arrived = asyncio.Event()

    def put(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._arrived.set()

    async def head(self) -> dict[str, Any]:
        """The oldest event, left in place until the sender has sent it."""
        while not self.events:
            self._arrived.clear()
            await self._arrived.wait()
        return self.events[0]

    def drop_oldest_note(self) -> dict[str, Any] | None:
        """Drop and return the oldest note event but the head (being sent), if any."""
        for index, event in enumerate(self.events):
            if index and event["type"] == events.NOTE:
                del self.events[index]
                return event
        return None


publisher = Publisher()


def publish_notes(notes: Iterable[Any]) -> None:
    """After commit: one layer event per note, data serialized once here."""
    committed_at = time.time()
    for note in notes:
        metrics.notes_created.inc()
        publisher.submit(events.note_event(inbox.note_payload(note), committed_at=committed_at))


def publish_unread(*, user_id: int, count: int, origin: str | None = None) -> None:
    publisher.submit(events.unread_event(user_id=user_id, count=count, origin=origin))


def publish_changed(
    *, user_id: int, ids: list[int], change: dict[str, bool], origin: str | None = None
) -> None:
    publisher.submit(events.changed_event(user_id=user_id, ids=ids, change=change, origin=origin))


def publish_preferences(
    *, user_id: int, preferences: dict[str, Any], origin: str | None = None
) -> None:
    publisher.submit(
        events.preferences_event(user_id=user_id, preferences=preferences, origin=origin)
    )


def publish_logout(*, session_key: str) -> None:
    publisher.submit(events.logout_event(session_key=session_key))


def publish_credentials_changed(*, user_key: str) -> None:
    publisher.submit(events.credentials_event(user_key=user_key))
