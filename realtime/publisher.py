"""Handing committed events to the channel layer without ever making a request wait.

``note`` sends ``notes_committed`` and ``unread_changed`` after commit, and
``realtime.receivers`` hands them to :func:`publish_notes` and
:func:`publish_unread`. They only put the event on a queue; one sender task
sends the queue in order. In a server process the sender runs on the server's
event loop (bound by the hub at start-up); elsewhere (``manage.py post_news``,
a shell) it runs on a private thread, flushed at exit.

If the layer fails (Redis down), the error is logged, what is queued is
dropped, and nothing else happens: the note is in the database, and every
server's hub reads what the layer did not bring (``realtime.hub``).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from note import inbox
from realtime import events, metrics
from realtime.layer import notes_layer
from realtime.logs import log_event

log = logging.getLogger(__name__)

SEND_TIMEOUT = 2.0
QUEUE_LIMIT = 10_000


class Publisher:
    """One ordered queue of outgoing layer events per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send from the server's event loop (called by the hub when it starts)."""
        with self._lock:
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
        self._queue = None
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True)
        thread.start()
        loop.call_soon_threadsafe(self._start_sender, loop)
        atexit.register(self.flush)
        return loop

    def _start_sender(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop.create_task(self._send_forever(self._queue), name="realtime-publisher")

    def _enqueue(self, loop: asyncio.AbstractEventLoop, event: dict[str, Any]) -> None:
        self._start_sender(loop)
        assert self._queue is not None
        if self._queue.qsize() >= QUEUE_LIMIT:
            log_event(log, "layer_queue_full", logging.WARNING, dropped=1)
            self._done(1)
            return
        self._queue.put_nowait(event)

    async def _send_forever(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            event = await queue.get()
            try:
                layer = notes_layer()  # looked up each time: tests swap layers
                await asyncio.wait_for(layer.group_send(events.GROUP, event), SEND_TIMEOUT)
            except Exception as exc:
                dropped = 0
                while not queue.empty():
                    queue.get_nowait()
                    dropped += 1
                metrics.layer_errors.labels("send").inc()
                # The notes are stored; every server's hub reads them from the database.
                log_event(
                    log, "layer_send_failed", logging.WARNING, error=repr(exc), dropped=dropped + 1
                )
                self._done(dropped)
            finally:
                self._done(1)

    def _done(self, count: int) -> None:
        if count:
            with self._idle:
                self._pending -= count
                self._idle.notify_all()


publisher = Publisher()


def publish_notes(notes: Iterable[Any]) -> None:
    """After commit: one layer event per note, data serialized once here."""
    committed_at = time.time()
    for note in notes:
        metrics.notes_created.inc()
        publisher.submit(events.note_event(inbox.note_payload(note), committed_at=committed_at))


def publish_unread(*, user_id: int, count: int, origin: str | None = None) -> None:
    publisher.submit(events.unread_event(user_id=user_id, count=count, origin=origin))


def publish_logout(*, session_key: str) -> None:
    publisher.submit(events.logout_event(session_key=session_key))
