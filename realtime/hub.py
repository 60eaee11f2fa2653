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
- as often, on a thread of its own, notes left pending by a sender that died
  between its commit and its stamp are stamped and published
  (``inbox.note_sweep_pending``);
- it records which users it serves (``note.presence``, for the email
  digest's "away"): a user's first socket here and last one closing mark them
  in a batch written every ``PRESENCE_FLUSH_SECONDS``, and everyone connected
  is written every ``NOTES_PRESENCE_SECONDS``; a connect itself costs no query;
- if the database cannot be read three times in a row (refused, or no answer
  within ``CATCH_UP_TIMEOUT``), every connection is closed with 1012 so that
  clients resume rather than silently miss notes.

A socket whose send fails is dropped (closed with 1011, so it resumes) and the
fan-out goes on: one broken connection never holds back the others' notes.

Revocation (``note.credentials``): when a user's credentials change, the hub
re-checks that user's sockets and closes those whose credential has ended with
``REVOKED`` (taking them out of the fan-out first, so nothing more reaches
them). It hears of a change over the layer at once, and finds it in the
database on every catch-up too, so a revocation reaches every process with the
layer down. Before delivering a private note it reads the changes committed
before that note, so no private note reaches a socket whose credential ended
before the note committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

from note import inbox
from notes_client.protocol import CloseCode
from realtime import conf, events, frames, metrics, tokencache
from realtime.db import run_in_hub_thread, run_in_sweep_thread
from realtime.layer import notes_layer
from realtime.logs import log_event

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 500
CATCH_UP_FAILURES_BEFORE_RESTART = 3
# The catch-up reads one index entry: a database that takes longer than this
# is hanging, and counts as a failure like a refused connection.
CATCH_UP_TIMEOUT = 2.0
# A sweep numbers up to a page of pending notes (note.stamping.STAMP_PAGE).
SWEEP_TIMEOUT = 10.0
# How long a fan-out may hold the event loop before it lets other ready work
# run, and how many sockets it serves between looks at the clock (see ``Hub._deliver``).
FAN_OUT_SLICE_SECONDS = 0.0005
FAN_OUT_CLOCK_EVERY = 32
# How soon a user's first connect or last disconnect in this process reaches
# the database (``_record_presence``): many connects, one batched write.
PRESENCE_FLUSH_SECONDS = 5.0


class Subscriber(Protocol):
    """What the hub needs of a connection (implemented by ``NotesConsumer``)."""

    conn_id: str
    user_id: int | None
    session: str | None
    credential: inbox.Credential | None

    def hub_note(
        self, payload: dict[str, Any], note_frames: frames.NoteFrames
    ) -> Awaitable[None] | None:
        """Take a live note: None when done at once, else an awaitable to await before the next."""
        ...

    async def hub_unread(self, count: int) -> None: ...
    async def hub_changed(self, ids: list[int], change: dict[str, bool]) -> None: ...
    async def hub_preferences(self, preferences: dict[str, Any]) -> None: ...
    async def hub_close(self, code: int, reason: str) -> None: ...

    def hub_dropped(self, error: BaseException) -> None:
        """The hub let go of this connection after a send to it failed: close it."""
        ...

    def hub_revoked(self) -> Awaitable[None]:
        """The credential has ended: from this call on, send nothing more; close with REVOKED."""
        ...


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: set[Subscriber] = set()
        # A user's one socket as itself, two or more in a set: most users have
        # one socket, and a set of one is 216 bytes. A set keeps adding and
        # removing one of a user's 10,000 sockets O(1) (a tuple rebuilt per
        # change made closing them all quadratic: a second of loop time).
        self.by_user: dict[int, Subscriber | set[Subscriber]] = {}
        self.last_id = 0
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()
        self._probes: dict[str, asyncio.Future[None]] = {}
        # Credential changes already applied (id -> when seen), and when the
        # newest read of them started: every change committed before then is known.
        self._changes_seen: dict[int, float] = {}
        self._changes_read_at = float("-inf")
        # When the hub last re-checked each user (loop time): a socket whose
        # handshake began before that re-checks itself once registered.
        self._rechecked_at: dict[str, float] = {}
        # Events as the layer brought them, with when: see ``_handle_heard``.
        self._heard: deque[tuple[dict[str, Any], float]] = deque()
        self._heard_some = asyncio.Event()
        self.empty = asyncio.Event()  # set while no connection is registered
        self.empty.set()
        # Users whose presence changed here since the last write: id -> language.
        self._presence_changed: dict[int, str] = {}

    async def start(self) -> None:
        self.last_id = await run_in_hub_thread(_last_note_id, within=CATCH_UP_TIMEOUT)
        try:
            # Before the first handshake: what the token cache may believe.
            await self.check_credentials()
        except Exception as exc:  # the watch retries; the cache is not believed meanwhile
            log_event(log, "credentials_read_failed", logging.WARNING, error=repr(exc))
        self._tasks = [
            self.loop.create_task(self._listen(), name="hub-listen"),
            self.loop.create_task(self._handle_heard(), name="hub-handle"),
            self.loop.create_task(self._watch(), name="hub-watch"),
            self.loop.create_task(self._sweeper(), name="hub-sweep"),
            self.loop.create_task(self._record_presence(), name="hub-presence"),
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
            mine = self.by_user.get(conn.user_id)
            if mine is None:
                self.by_user[conn.user_id] = conn
                self._presence_changed[conn.user_id] = getattr(conn, "language", "")
            elif isinstance(mine, set):
                mine.add(conn)
            else:
                self.by_user[conn.user_id] = {mine, conn}

    def remove(self, conn: Subscriber) -> None:
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        if not self.connections:
            self.empty.set()
        if conn.user_id is not None:
            mine = self.by_user.get(conn.user_id)
            if isinstance(mine, set):
                mine.discard(conn)
                if len(mine) == 1:
                    self.by_user[conn.user_id] = next(iter(mine))
            elif mine is conn:
                del self.by_user[conn.user_id]
                self._presence_changed[conn.user_id] = getattr(conn, "language", "")

    def user_connections(self, user_id: int) -> tuple[Subscriber, ...]:
        """The user's registered sockets, as a snapshot safe to iterate across awaits."""
        mine = self.by_user.get(user_id)
        if mine is None:
            return ()
        return tuple(mine) if isinstance(mine, set) else (mine,)

    # Events.

    async def handle(self, event: dict[str, Any], *, heard_at: float | None = None) -> None:
        """Act on one event of the stream; ``heard_at``: the loop time it arrived."""
        kind = event.get("type")
        if kind == events.NOTE:
            await self._on_note(
                event["note"], heard_at=self.loop.time() if heard_at is None else heard_at
            )
            committed_at = event.get("committed_at")
            if committed_at is not None:
                metrics.delivery_latency.observe(max(0.0, time.time() - committed_at))
        elif kind == events.UNREAD:
            for conn in self.user_connections(event["user_id"]):
                if conn.conn_id != event.get("origin"):
                    await self._guarded(conn, conn.hub_unread(event["count"]))
        elif kind == events.CHANGED:
            for conn in self.user_connections(event["user_id"]):
                if conn.conn_id != event.get("origin"):
                    await self._guarded(conn, conn.hub_changed(event["ids"], event["change"]))
        elif kind == events.PREFERENCES:
            # Each socket holds the preferences it marks notes muted by: from
            # the next note on. The one that asked has taken them already.
            for conn in self.user_connections(event["user_id"]):
                if conn.conn_id != event.get("origin"):
                    await self._guarded(conn, conn.hub_preferences(event["preferences"]))
        elif kind == events.LOGOUT:
            for conn in tuple(self.connections):
                if conn.session is not None and conn.session == event["session"]:
                    await self._guarded(conn, conn.hub_close(CloseCode.NORMAL, "logged out"))
        elif kind == events.CREDENTIALS:
            tokencache.credentials_changed(event["user"])  # before any await
            async with self._lock:
                await self._recheck_user(event["user"])
        elif kind == events.PROBE:
            heard = self._probes.get(event.get("token"))
            if heard is not None and not heard.done():
                heard.set_result(None)
        else:
            log_event(log, "stream_unknown_event", logging.WARNING, type=repr(kind))

    async def hears_itself(self, *, within: float) -> bool:
        """Does an event this process sends come back to its hub within ``within`` seconds?

        The publisher asks after a failed send, before sending what it kept: a
        layer that accepts sends again may still be re-subscribing its
        listeners (redis-py reconnects a pub/sub connection on its next read),
        and an event published meanwhile reaches nobody.
        """
        token = uuid.uuid4().hex
        heard = self._probes[token] = self.loop.create_future()
        try:
            async with asyncio.timeout(within):
                await notes_layer().group_send(events.GROUP, events.probe_event(token=token))
                await heard
            return True
        except Exception:
            return False
        finally:
            del self._probes[token]

    async def catch_up(self) -> None:
        """Deliver whatever the database has beyond the last id seen."""
        async with self._lock:
            await self._catch_up_locked(upto=None)

    async def check_credentials(self) -> None:
        """Apply the credential changes committed since the last look (the periodic path)."""
        async with self._lock:
            await self._read_credential_changes()

    async def _on_note(self, payload: dict[str, Any], *, heard_at: float) -> None:
        async with self._lock:
            note_id = payload["id"]
            if note_id <= self.last_id:
                return  # already delivered (by a catch-up, or a duplicate)
            if note_id > self.last_id + 1:
                await self._catch_up_locked(upto=note_id - 1)
            await self._deliver(payload, known_at=heard_at)
            self.last_id = note_id

    async def _catch_up_locked(self, *, upto: int | None) -> None:
        while True:
            read_at = self.loop.time()
            payloads, newest = await run_in_hub_thread(
                _notes_after, self.last_id, upto, CATCH_UP_PAGE, within=CATCH_UP_TIMEOUT
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
                await self._deliver(payload, known_at=read_at)
                self.last_id = payload["id"]
            metrics.notes_caught_up.inc(len(payloads))
            if len(payloads) < CATCH_UP_PAGE:
                if upto is not None:
                    self.last_id = max(self.last_id, upto)  # ids not found were deleted
                return

    async def _deliver(self, payload: dict[str, Any], *, known_at: float) -> None:
        """Send one note to its sockets. ``known_at``: a loop time by which the note
        had committed (when its event arrived, or its catch-up read started)."""
        recipient = payload["recipient_id"]
        targets = tuple(self.connections) if recipient is None else self.user_connections(recipient)
        if not targets:
            return
        if recipient is not None and self._changes_read_at < known_at:
            # A revocation committed before this note must win: read the changes
            # (one indexed query) before the note reaches the recipient's sockets.
            await self._read_credential_changes()
            targets = self.user_connections(recipient)
            if not targets:
                return
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
        # A socket whose send raises is dropped and the fan-out goes on; the
        # frames are counted once per fan-out, less those that failed.
        clock = self.loop.time
        pause_at = clock() + FAN_OUT_SLICE_SECONDS
        failed = 0
        for served, conn in enumerate(targets, 1):
            try:
                pending = conn.hub_note(payload, note_frames)
                if pending is not None:
                    await pending
            except Exception as exc:
                failed += 1
                self._drop(conn, exc)
            if not served % FAN_OUT_CLOCK_EVERY and clock() >= pause_at:
                await asyncio.sleep(0)
                pause_at = clock() + FAN_OUT_SLICE_SECONDS
        metrics.frames_delivered.labels("live").inc(len(targets) - failed)

    async def _guarded(self, conn: Subscriber, sending: Awaitable[None]) -> None:
        """Await one send to ``conn``; if it fails, drop ``conn`` and carry on with the rest."""
        try:
            await sending
        except Exception as exc:
            self._drop(conn, exc)

    def _drop(self, conn: Subscriber, error: Exception) -> None:
        self.remove(conn)
        metrics.clients_cut_off.labels("send_failed").inc()
        log_event(log, "ws_send_failed", logging.WARNING, conn=conn.conn_id, error=repr(error))
        conn.hub_dropped(error)

    async def _read_credential_changes(self) -> None:
        """Re-check the sockets of every user whose credentials changed since the last read.

        Called with the lock held. A change is applied once per process; one
        seen twice (over the layer and here) only costs a second re-check.
        """
        if not tokencache.known.loaded:
            users = await run_in_hub_thread(
                tokencache.users_changed_lately, within=CATCH_UP_TIMEOUT
            )
            tokencache.changes_loaded(users)
        started, started_wall = self.loop.time(), time.time()
        changes = await run_in_hub_thread(
            inbox.credential_changes_since, seen=set(self._changes_seen), within=CATCH_UP_TIMEOUT
        )
        self._changes_read_at = started
        forget_before = started - inbox.CHANGES_LOOKBACK.total_seconds() * 2
        for change_id, seen_at in tuple(self._changes_seen.items()):
            if seen_at < forget_before:
                del self._changes_seen[change_id]
        for user_key, rechecked_at in tuple(self._rechecked_at.items()):
            if rechecked_at < forget_before:  # no handshake takes that long
                del self._rechecked_at[user_key]
        users = []
        for change_id, user_key in changes:
            self._changes_seen[change_id] = started
            if user_key not in users:
                users.append(user_key)
                tokencache.credentials_changed(user_key)
        # Every change committed before ``started_wall`` is now known to the cache.
        tokencache.changes_read(started=started_wall)
        for user_key in users:
            await self._recheck_user(user_key)

    def rechecked_since(self, user_key: str, moment: float) -> bool:
        """Has the hub re-checked this user's sockets at or after loop time ``moment``?

        A socket registering now asks, with the time its handshake began: if so,
        that re-check could not see it, and it must check its credential itself.
        """
        return self._rechecked_at.get(user_key, float("-inf")) >= moment

    async def _recheck_user(self, user_key: str) -> None:
        """Close the user's sockets here whose credential no longer holds (lock held)."""
        self._rechecked_at[user_key] = self.loop.time()
        conns = [c for c in self._connections_of_key(user_key) if c.credential is not None]
        if not conns:
            return
        valid = await run_in_hub_thread(
            inbox.credentials_still_valid, [c.credential for c in conns], within=CATCH_UP_TIMEOUT
        )
        for conn, ok in zip(conns, valid, strict=True):
            if not ok:
                self.remove(conn)  # out of the fan-out before anything else can reach it
                metrics.clients_cut_off.labels("credentials_revoked").inc()
                await self._guarded(conn, conn.hub_revoked())

    def _connections_of_key(self, user_key: str) -> tuple[Subscriber, ...]:
        """The sockets of the user whose primary key reads ``user_key`` (an int, a UUID, text)."""
        found = self.user_connections(user_key)
        if not found and user_key.lstrip("-").isdigit():
            found = self.user_connections(int(user_key))
        if not found:
            try:
                found = self.user_connections(uuid.UUID(user_key))
            except ValueError:
                pass
        return found

    async def close_all(self, code: int, reason: str, *, forget: bool = False) -> None:
        """Close every registered socket; with ``forget``, also stop counting them.

        Shutdown keeps them registered until daphne reports each one gone (it
        waits for ``empty``). After a failed catch-up they are forgotten at once:
        a socket still inside its connect hears its close only once its own
        database call, queued behind the hanging ones, gives up.
        """
        closing = tuple(self.connections)
        for conn in closing:
            await self._guarded(conn, conn.hub_close(code, reason))
        if forget:
            for conn in closing:
                self.remove(conn)

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
                self._heard.append((event, self.loop.time()))
                self._heard_some.set()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _stop_if_cancelled()
                metrics.layer_errors.labels("receive").inc()
                self._subscribed.clear()
                log_event(
                    log, "layer_receive_failed", logging.WARNING, error=repr(exc), retry_in=backoff
                )
                channel = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue

    async def _handle_heard(self) -> None:
        """Handle what ``_listen`` heard, in order.

        Two tasks, so that the time an event arrived is taken while the hub is
        still busy with earlier ones: a burst of private notes that arrived
        during one read of the credential changes is covered by the next read,
        instead of costing one read per note (bench/revocation.py).
        """
        while True:
            if not self._heard:
                self._heard_some.clear()
                await self._heard_some.wait()
                continue
            event, heard_at = self._heard.popleft()
            try:
                await self.handle(event, heard_at=heard_at)
            except Exception:
                _stop_if_cancelled()
                log.exception("hub_event_failed type=%r", event.get("type"))

    async def _watch(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(conf.CATCH_UP_SECONDS)
            try:
                await self.catch_up()
                await self.check_credentials()
                failures = 0
            except Exception as exc:
                _stop_if_cancelled()
                failures += 1
                log_event(
                    log, "catch_up_failed", logging.WARNING, error=repr(exc), failures=failures
                )
                if failures >= CATCH_UP_FAILURES_BEFORE_RESTART:
                    await self.close_all(
                        CloseCode.SERVICE_RESTART, "catching up failed; resume", forget=True
                    )
                    failures = 0

    async def _record_presence(self) -> None:
        """Write who is connected here (``note.presence``), batched.

        Every ``PRESENCE_FLUSH_SECONDS`` the users who connected or left since
        the last write; every ``NOTES_PRESENCE_SECONDS`` everyone connected too,
        so a user whose process dies stops being "seen" within that time. Runs
        on the sweep's thread: a slow write never delays the catch-up. What a
        failed write held is kept for the next one.
        """
        last_everyone = self.loop.time()
        while True:
            await asyncio.sleep(min(PRESENCE_FLUSH_SECONDS, inbox.presence_seconds()))
            seen, self._presence_changed = self._presence_changed, {}
            if self.loop.time() - last_everyone >= inbox.presence_seconds():
                last_everyone = self.loop.time()
                for user_id, mine in self.by_user.items():
                    one = next(iter(mine)) if isinstance(mine, set) else mine
                    seen[user_id] = getattr(one, "language", "")
            if not seen:
                continue
            try:
                await run_in_sweep_thread(
                    functools.partial(inbox.note_presence_record, seen=seen), within=SWEEP_TIMEOUT
                )
            except Exception as exc:
                _stop_if_cancelled()
                log_event(log, "presence_failed", logging.WARNING, error=repr(exc), users=len(seen))
                self._presence_changed = {**seen, **self._presence_changed}

    async def _sweeper(self) -> None:
        """Stamp notes whose sender died between its commit and its stamp (issue 14).

        Every process sweeps, as often as it catches up, on a thread of its
        own (``realtime.db.run_in_sweep_thread``); the stamp's lock makes each
        note stamped and sent once, by whichever process got there first.
        """
        while True:
            await asyncio.sleep(conf.CATCH_UP_SECONDS)
            try:
                stamped = await run_in_sweep_thread(inbox.note_sweep_pending, within=SWEEP_TIMEOUT)
            except Exception as exc:
                _stop_if_cancelled()
                log_event(log, "stamp_sweep_failed", logging.WARNING, error=repr(exc))
                continue
            if stamped:
                log_event(log, "stamp_swept", logging.WARNING, notes=len(stamped))


def _stop_if_cancelled() -> None:
    """Raise ``CancelledError`` if this task was cancelled and the cancel got lost.

    Called first in every loop's ``except Exception``: a client library can
    turn a cancel that lands inside it into an ordinary error, which the loop
    would otherwise retry (``Task.cancelling()`` still counts the request).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _last_note_id() -> int:
    return inbox.note_last_id()


def _notes_after(after: int, upto: int | None, limit: int) -> tuple[list[dict], int]:
    """Payloads of every note (any recipient) with after < id <= upto, oldest first."""
    newest = inbox.note_last_id()
    if newest <= after:
        return [], newest
    notes = inbox.note_list_after(after=after, upto=upto, limit=limit)
    return [inbox.note_payload(n) for n in notes], newest
