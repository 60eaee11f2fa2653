"""The hub: the one listener of the notes stream in each server process.

Consumers never touch the channel layer. Each registers with its process's
hub (a dict insert, no Redis round trip, so thousands can connect at once),
and the hub fans every event out to the local sockets: a public note to all,
a private one to its recipient's connections only, each frame serialized once
per language. Because note ids are dense and follow commit order, the hub
delivers them strictly in order and closes any gap from the database:

- a note arriving with id > last + 1: the missing ids are read first;
- every ``NOTES_CATCH_UP_SECONDS``: anything newer in the database than the
  last id seen is read (this covers a Redis restart, the pub/sub layer losing
  what was published while it reconnected, and at-most-once drops);
- if the database cannot be read three times in a row, every connection is
  closed with 1012 so that clients resume rather than silently miss notes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from note import inbox
from notes_client.protocol import CloseCode
from realtime import conf, events, frames, metrics
from realtime.db import run_in_db_thread
from realtime.layer import notes_layer
from realtime.logs import log_event

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 500
CATCH_UP_FAILURES_BEFORE_RESTART = 3
# How long a fan-out may hold the event loop before it lets other ready work
# run, and how many sockets it serves between looks at the clock (see ``Hub._deliver``).
FAN_OUT_SLICE_SECONDS = 0.0005
FAN_OUT_CLOCK_EVERY = 32


class Subscriber(Protocol):
    """What the hub needs of a connection (implemented by ``NotesConsumer``)."""

    conn_id: str
    user_id: int | None
    session: str | None

    def hub_note(
        self, payload: dict[str, Any], note_frames: frames.NoteFrames
    ) -> Awaitable[None] | None:
        """Take a live note: None when done at once, else an awaitable to await before the next."""
        ...

    async def hub_unread(self, count: int) -> None: ...
    async def hub_close(self, code: int, reason: str) -> None: ...


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: set[Subscriber] = set()
        # A tuple per user, not a set: most users have one socket, and a
        # set of one is 216 bytes (a tuple of one: 48). Adds and removes rebuild a
        # user's few sockets; deliveries read it as it is.
        self.by_user: dict[int, tuple[Subscriber, ...]] = {}
        self.last_id = 0
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()
        self.empty = asyncio.Event()  # set while no connection is registered
        self.empty.set()

    async def start(self) -> None:
        self.last_id = await run_in_db_thread(_last_note_id)()
        self._tasks = [
            self.loop.create_task(self._listen(), name="hub-listen"),
            self.loop.create_task(self._watch(), name="hub-watch"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    @property
    def subscribed(self) -> bool:
        """Has the hub joined the stream group (and not lost it since)?"""
        return self._subscribed.is_set()

    # Registration: called by consumers, never awaits.

    def add(self, conn: Subscriber) -> None:
        if conn in self.connections:
            return
        self.connections.add(conn)
        self.empty.clear()
        if conn.user_id is not None:
            self.by_user[conn.user_id] = (*self.by_user.get(conn.user_id, ()), conn)

    def remove(self, conn: Subscriber) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self.empty.set()
        if conn.user_id is not None:
            peers = tuple(c for c in self.by_user.get(conn.user_id, ()) if c is not conn)
            if peers:
                self.by_user[conn.user_id] = peers
            else:
                self.by_user.pop(conn.user_id, None)

    # Events.

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == events.NOTE:
            await self._on_note(event["note"])
            committed_at = event.get("committed_at")
            if committed_at is not None:
                metrics.delivery_latency.observe(max(0.0, time.time() - committed_at))
        elif kind == events.UNREAD:
            for conn in self.by_user.get(event["user_id"], ()):
                if conn.conn_id != event.get("origin"):
                    await conn.hub_unread(event["count"])
        elif kind == events.LOGOUT:
            for conn in tuple(self.connections):
                if conn.session is not None and conn.session == event["session"]:
                    await conn.hub_close(CloseCode.NORMAL, "logged out")
        else:
            log_event(log, "stream_unknown_event", logging.WARNING, type=repr(kind))

    async def catch_up(self) -> None:
        """Deliver whatever the database has beyond the last id seen."""
        async with self._lock:
            await self._catch_up_locked(upto=None)

    async def _on_note(self, payload: dict[str, Any]) -> None:
        async with self._lock:
            note_id = payload["id"]
            if note_id <= self.last_id:
                return  # already delivered (by a catch-up, or a duplicate)
            if note_id > self.last_id + 1:
                await self._catch_up_locked(upto=note_id - 1)
            await self._deliver(payload)
            self.last_id = note_id

    async def _catch_up_locked(self, *, upto: int | None) -> None:
        while True:
            payloads, newest = await run_in_db_thread(_notes_after)(
                self.last_id, upto, CATCH_UP_PAGE
            )
            if newest < self.last_id:
                # The notes table went backwards (a flushed test database): follow it.
                log_event(
                    log,
                    "notes_sequence_reset",
                    logging.WARNING,
                    last_id=self.last_id,
                    newest=newest,
                )
                self.last_id = newest
                return
            for payload in payloads:
                await self._deliver(payload)
                self.last_id = payload["id"]
            metrics.notes_caught_up.inc(len(payloads))
            if len(payloads) < CATCH_UP_PAGE:
                if upto is not None:
                    self.last_id = max(self.last_id, upto)  # ids not found were deleted
                return

    async def _deliver(self, payload: dict[str, Any]) -> None:
        recipient = payload["recipient_id"]
        targets = self.connections if recipient is None else self.by_user.get(recipient)
        if not targets:
            return
        metrics.frames_delivered.labels("live").inc(len(targets))
        note_frames = frames.NoteFrames(payload)  # built once per language, shared by all sockets
        # A fan-out to 2,000 sockets is 30-40 ms of CPU on the event loop, and a
        # request that needs the loop meanwhile (Django makes a few trips between
        # the loop and a thread per request; see frontend/csp.py) would wait for
        # all of it. Yielding every half millisecond (~4 % of the fan-out's
        # samples) lets those trips through: POST /api/news/ p50 with 2,000
        # sockets 12-15 ms, 47 ms without the slices (workload D of
        # docs/performance.md; 11 ms with no sockets). Reading the clock for
        # every socket was 6.6 % of a fan-out's samples: it is read every 32.
        # Most sockets take the frame at once (realtime/patches/direct_write.py) and hand back
        # nothing to await, so the loop makes no coroutine per socket.
        clock = self.loop.time
        pause_at = clock() + FAN_OUT_SLICE_SECONDS
        for served, conn in enumerate(tuple(targets), 1):
            pending = conn.hub_note(payload, note_frames)
            if pending is not None:
                await pending
            if not served % FAN_OUT_CLOCK_EVERY and clock() >= pause_at:
                await asyncio.sleep(0)
                pause_at = clock() + FAN_OUT_SLICE_SECONDS

    async def close_all(self, code: int, reason: str) -> None:
        for conn in tuple(self.connections):
            await conn.hub_close(code, reason)

    # Background tasks.

    async def _listen(self) -> None:
        layer = notes_layer()
        channel: str | None = None
        backoff = 0.5
        while True:
            try:
                if channel is None:
                    channel = await layer.new_channel("hub.")
                    await layer.group_add(events.GROUP, channel)
                    self._subscribed.set()
                    log_event(log, "hub_subscribed", channel=channel)
                event = await layer.receive(channel)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.layer_errors.labels("receive").inc()
                self._subscribed.clear()
                log_event(
                    log, "layer_receive_failed", logging.WARNING, error=repr(exc), retry_in=backoff
                )
                channel = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            try:
                await self.handle(event)
            except Exception:
                log.exception("hub_event_failed type=%r", event.get("type"))

    async def _watch(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(conf.CATCH_UP_SECONDS)
            try:
                await self.catch_up()
                failures = 0
            except Exception as exc:
                failures += 1
                log_event(
                    log, "catch_up_failed", logging.WARNING, error=repr(exc), failures=failures
                )
                if failures >= CATCH_UP_FAILURES_BEFORE_RESTART:
                    await self.close_all(CloseCode.SERVICE_RESTART, "catching up failed; resume")
                    failures = 0


def _last_note_id() -> int:
    return inbox.note_last_id()


def _notes_after(after: int, upto: int | None, limit: int) -> tuple[list[dict], int]:
    """Payloads of every note (any recipient) with after < id <= upto, oldest first."""
    newest = inbox.note_last_id()
    if newest <= after:
        return [], newest
    notes = inbox.note_list_after(after=after, upto=upto, limit=limit)
    return [inbox.note_payload(n) for n in notes], newest
