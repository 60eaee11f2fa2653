"""The ``/ws/notes/`` consumer: protocol v1 for one socket.

Live notes come from the process's hub (``realtime.hub``), which calls
:meth:`NotesConsumer.hub_note`; this consumer has no channel-layer channel
of its own. On connect it registers with the hub *before* reading the
database, buffers what the hub brings while it replays, then releases the
buffer past the last replayed id: a note committed during the replay is
neither lost nor sent twice, and ids on one socket always increase.

Whatever ends the consumer (a close, an error, daphne cancelling it) takes it
out of the hub, so ``realtime_connections_open`` counts the sockets that
really are open.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import uuid
from collections import deque
from collections.abc import Awaitable
from typing import Any

from asgiref.sync import markcoroutinefunction
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from note import inbox
from notes_client import protocol
from notes_client.protocol import CloseCode
from realtime import conf, frames, metrics
from realtime.credentials import must_recheck, socket_credential
from realtime.db import DatabaseBusy, run_in_db_thread
from realtime.events import session_fingerprint
from realtime.flood import FloodGuard
from realtime.languages import scope_language
from realtime.logs import log_event
from realtime.patches.connection import daphne_protocol
from realtime.patches.direct_write import direct_writer
from realtime.patches.output_cap import DRAIN_LOW_WATER, buffered_bytes, drained
from realtime.patches.release_upgrade import release_upgrade
from realtime.runtime import current_runtime

log = logging.getLogger(__name__)

_FAILED = object()  # what ``_user_write`` returns once it has answered a failure

# Notes per replay query. A replay waiting for a slow reader holds one page in
# memory, so a page is sized by bytes: the next one holds about
# REPLAY_PAGE_BYTES of frames as large as the largest of the last page, between
# REPLAY_PAGE (the first page, and never fewer: at most 100 notes of 60 KiB) and
# REPLAY_PAGE_MAX. Each page is a round trip and a turn for a replay slot:
# fixed pages of 100 made a resume of 1,000 short notes about twice as slow
# as pages of 500 (bench plan F).
REPLAY_PAGE = 100
REPLAY_PAGE_MAX = 1000
REPLAY_PAGE_BYTES = 256 * 1024
# Frames a replay builds on the loop before it lets other ready work run.
REPLAY_FRAMES_BETWEEN_YIELDS = 50
# A session socket's timer fires this long after the stored expiry, so the
# re-read finds the session over rather than re-arming for an instant.
SESSION_EXPIRY_SLACK_SECONDS = 0.25
# When that re-read fails (the database down or busy), it is tried again this much later.
SESSION_RECHECK_RETRY_SECONDS = 5.0


class NotesConsumer(AsyncWebsocketConsumer):
    # No per-connection layer channel: the hub listens once for the whole process.
    channel_layer_alias = "__no_layer_per_connection__"

    @classmethod
    def as_asgi(cls, **initkwargs):
        """Channels' ``as_asgi``, without its coroutine around the consumer's.

        Every coroutine of the ASGI stack that awaits the next one stays alive,
        frame and all, for as long as the socket is open (about 260 bytes each).
        This ``app`` only makes the consumer and hands back its coroutine.
        """

        def app(scope, receive, send):
            return cls(**initkwargs)(scope, receive, send)

        app.consumer_class = cls
        app.consumer_initkwargs = initkwargs
        functools.update_wrapper(app, cls, updated=())
        return markcoroutinefunction(app)

    async def __call__(self, scope, receive, send) -> None:
        """Channels' consumer loop for a consumer without a layer channel.

        ``await_many_dispatch`` wraps each receive in a task and ``asyncio.wait``
        (made to listen to the client and a layer channel at once); for the
        client alone that is a task wake-up per frame and about 1.5 KB per idle
        socket (tracemalloc, 1,000 sockets). Same order, one message at a time.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.hub = None
        self.expiry = None
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            if self.expiry is not None:
                self.expiry.cancel()
            # The one way out: a close, an error in a handler, or daphne
            # cancelling a consumer whose client has gone (say, while its
            # connect waited on the database) all end its registration.
            if self.hub is not None:
                self.hub.remove(self)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, minus its ``aclose_old_connections()`` before every handler.

        That call is a hop to a thread-sensitive thread (where Django's sync code
        runs) for every connect, frame and disconnect, so a connect storm queued
        every connection behind the others. This consumer never uses the ORM on
        the event loop: its database work runs on ``realtime.db``'s pool, which
        closes old connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope["user"]
        self.user = user if user.is_authenticated else None
        self.user_id = self.user.pk if self.user else None
        session = self.scope.get("session")
        token_auth = self.scope.get("auth_method") == "token"
        self.session = (
            None if token_auth or session is None else session_fingerprint(session.session_key)
        )
        self.credential = socket_credential(self.scope)
        if self.session is None and self.credential is not None and self.credential.session_key:
            # A ticket made by a page: logging that session out closes this socket too.
            self.session = session_fingerprint(self.credential.session_key)
        self.revoked = False
        self.language = scope_language(self.scope)
        self.conn_id = uuid.uuid4().hex[:12]
        self.buffer: deque[dict[str, Any]] | None = None  # made when a note arrives early
        self.buffering = True
        self.writer = direct_writer(self.base_send)
        self.closing = False
        self.last_sent = 0
        self.guard: FloodGuard | None = None  # made by the first frame: most sockets only listen
        self.preferences = inbox.NO_PREFERENCES  # the user's, read with the hello
        await self.accept()
        release_upgrade(self.base_send)
        metrics.connections_accepted.labels("asgi" if self.writer is None else "direct").inc()
        try:
            after = protocol.parse_after(self.scope.get("query_string", b""))
        except protocol.ProtocolError as exc:
            await self.send(protocol.error(exc.code, exc.message))
            await self._close(CloseCode.BAD_REQUEST, exc.message)
            return
        try:
            runtime = await current_runtime()
            if not runtime.accepting:
                # This process is stopping: the client reconnects, to another one.
                await self._close(CloseCode.GOING_AWAY, "server shutting down; resume")
                return
            self.hub = runtime.hub
            self.hub.add(self)  # first, so nothing committed from now on can slip past
            self._close_at_expiry()
            log_event(log, "ws_connect", conn=self.conn_id, user=self._who(), after=after)
            await self._catch_up_to_live(after, runtime.replay_slots)
        except Exception as exc:
            # The database failed, hung or was too busy mid-connect. Whatever got
            # out, the client resumes from the last id it saw; the hub must not
            # keep a socket it will never hear close (``__call__`` makes sure
            # of that for any other way out).
            if self.hub is not None:
                self.hub.remove(self)
            log_event(log, "ws_connect_failed", logging.WARNING, conn=self.conn_id, error=repr(exc))
            if isinstance(exc, DatabaseBusy):
                metrics.clients_cut_off.labels("database_busy").inc()
                await self._close(CloseCode.TRY_AGAIN_LATER, "server busy; resume later")
            else:
                await self._close(CloseCode.SERVICE_RESTART, "could not load notes; resume")

    async def _catch_up_to_live(self, after: int | None, replay_slots: asyncio.Semaphore) -> None:
        """hello, the replay, synced, then what the hub brought meanwhile."""
        recheck = self.credential if must_recheck(self.scope, self.hub, self.credential) else None
        session_key = self._session_key()
        valid, unread, last_id, session_expires, self.preferences = await self._db(_hello_facts)(
            self.user, recheck, session_key
        )
        if not valid:
            # Revoked between the handshake and the registration with the hub
            # (which re-checks only sockets it has): this read comes after it.
            self.revoked = True
            metrics.clients_cut_off.labels("credentials_revoked").inc()
            await self._close(CloseCode.REVOKED, "credentials revoked")
            return
        if session_key is not None:
            self._close_at_session_expiry(session_expires)
        await self.send(
            protocol.hello(
                user=self.user.get_username() if self.user else None,
                unread=unread,
                last_id=last_id,
                preferences=None if self.preferences.is_default else self.preferences.wire(),
            )
        )
        self.last_sent = last_id if after is None else after
        capped = False
        if after is not None:
            if self.user is None:
                after, capped = await self._db(_anonymous_replay_start)(
                    after, conf.ANONYMOUS_REPLAY_NOTES
                )
            kept_up, pruned_upto = await self._replay(after, replay_slots)
            if not kept_up:
                metrics.clients_cut_off.labels("slow_reader").inc()
                await self._close(CloseCode.TRY_AGAIN_LATER, "too slow reading the replay; resume")
                return
        if self.closing:
            return
        # Read with the replay's last page, after every earlier one: a prune
        # that ran meanwhile is heard (the marks rise in its batches' transactions).
        pruned = after is not None and pruned_upto > after
        await self.send(protocol.synced(last_id=self.last_sent, capped=capped, pruned=pruned))
        while self.buffer:
            pending = self._write_note(self.buffer.popleft(), None)
            if pending is not None:
                await pending
        self.buffer = None
        self.buffering = False  # no await since the buffer was seen empty

    async def disconnect(self, code: int) -> None:
        if self.hub is not None:
            self.hub.remove(self)
        log_event(log, "ws_close", conn=self.conn_id, user=self._who(), code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return  # frames already in flight when we closed: nothing to answer
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > protocol.MAX_FRAME_BYTES:
            metrics.clients_cut_off.labels("frame_size").inc()
            log_event(
                log, "ws_limit", conn=self.conn_id, user=self._who(), limit="frame_size", bytes=size
            )
            await self._close(CloseCode.TOO_BIG, "frame too big")
            return
        if self.guard is None:
            self.guard = FloodGuard(
                rate=conf.WS_RATE_PER_SECOND,
                burst=conf.WS_RATE_BURST,
                strikes=conf.WS_FLOOD_STRIKES,
            )
        if not self.guard.admit():
            if self.guard.exhausted:
                metrics.clients_cut_off.labels("flood").inc()
                log_event(log, "ws_limit", conn=self.conn_id, user=self._who(), limit="flood")
                await self._close(CloseCode.POLICY, "too many frames")
            else:
                await self.send(protocol.error("rate_limited", "slow down"))
            return
        if text_data is None:
            await self.send(protocol.error("bad_request", "binary frames are not supported"))
            return
        try:
            command = protocol.parse_command(text_data)
        except protocol.ProtocolError as exc:
            await self.send(protocol.error(exc.code, exc.message))
            return
        if isinstance(command, protocol.Ping):
            await self.send(protocol.pong())
        elif self.user is None:
            await self.send(protocol.error("bad_request", "log in to change the state of notes"))
        elif isinstance(command, protocol.SetPreferences):
            await self._set_preferences(command)
        else:
            await self._change_state(command)

    async def _user_write(
        self, call, *, event: str, reason: str, bad_input=(), **kwargs: Any
    ) -> Any:
        """Run one of the user's writes on the database pool; ``_FAILED`` once a failure
        has been answered: ``rate_limited`` when its queue is full, ``bad_request`` for
        ``bad_input``, otherwise a close with 1012 (the client resumes)."""
        try:
            return await run_in_db_thread(call, owner=self.user_id, repeatable=True)(
                user=self.user, origin=self.conn_id, **kwargs
            )
        except DatabaseBusy:
            await self.send(protocol.error("rate_limited", "too much work waiting; slow down"))
        except bad_input as exc:
            await self.send(protocol.error("bad_request", str(exc)))
        except Exception as exc:
            log_event(log, event, logging.WARNING, conn=self.conn_id, error=repr(exc))
            await self._close(CloseCode.SERVICE_RESTART, reason)
        return _FAILED

    async def _change_state(self, command: protocol.Command) -> None:
        """mark_read, mark_unread, archive, unarchive, delete: this socket answers for
        itself (``unread`` if the count moved, then ``changed``); the hub tells the user's
        others."""
        if isinstance(command, protocol.MarkRead):
            call = functools.partial(inbox.note_mark_read, ids=command.ids, all=command.all)
            change = {"read": True, **({"all": True} if command.all else {})}
        elif isinstance(command, protocol.MarkUnread):
            call = functools.partial(inbox.note_mark_unread, ids=command.ids)
            change = {"read": False}
        elif isinstance(command, protocol.Delete):
            call = functools.partial(inbox.note_delete, ids=command.ids)
            change = {"deleted": True}
        else:
            call = functools.partial(inbox.note_archive, ids=command.ids, archived=command.archived)
            change = {"archived": command.archived}
        result = await self._user_write(
            call, event="ws_change_state_failed", reason="could not change notes; resume"
        )
        if result is _FAILED:
            return
        if isinstance(command, protocol.Archive):
            if result:
                await self.send(protocol.changed(ids=result, change=change))
            return
        # The order the user's other sockets hear them in (``_after_commit_tell``).
        if result.changed:
            await self.send(protocol.unread(count=result.unread))
        if result.ids or (change.get("all") and result.changed):
            await self.send(protocol.changed(ids=result.ids, change=change))

    async def _set_preferences(self, command: protocol.SetPreferences) -> None:
        """Change the user's preferences (or, with nothing to change, read them); this
        socket answers ``preferences`` (and ``unread`` if the count moved)."""
        quiet = (
            inbox.PREFERENCE_UNSET if command.quiet_minutes is None else command.quiet_minutes * 60
        )
        count_muted = inbox.PREFERENCE_UNSET if command.count_muted is None else command.count_muted
        result = await self._user_write(
            inbox.note_preferences_set,
            event="ws_preferences_failed",
            reason="could not change preferences; resume",
            bad_input=inbox.PreferenceError,
            mute=command.mute,
            unmute=command.unmute,
            reset=command.reset,
            quiet_seconds=quiet,
            count_muted=count_muted,
            channels=command.channels,
        )
        if result is _FAILED:
            return
        self.preferences = result.preferences
        if result.changed:
            await self.send(protocol.unread(count=result.unread))
        await self.send(protocol.preferences(self.preferences.wire()))

    # Called by the hub.

    def hub_note(
        self, payload: dict[str, Any], note_frames: frames.NoteFrames
    ) -> Awaitable[None] | None:
        """Buffered while the replay runs; otherwise see ``_write_note``."""
        if self.buffering:
            if self.buffer is None:
                self.buffer = deque()
            self.buffer.append(payload)
            return None
        return self._write_note(payload, note_frames)

    async def hub_unread(self, count: int) -> None:
        await self.send(protocol.unread(count=count))

    async def hub_changed(self, ids: list[int], change: dict[str, bool]) -> None:
        await self.send(protocol.changed(ids=ids, change=change))

    async def hub_preferences(self, preferences: dict[str, Any]) -> None:
        """The user changed preferences elsewhere: mark notes by them from now on."""
        self.preferences = inbox.Preferences.from_event(preferences)
        await self.send(protocol.preferences(self.preferences.wire()))

    async def hub_close(self, code: int, reason: str) -> None:
        log_event(
            log, "ws_server_close", conn=self.conn_id, user=self._who(), code=code, reason=reason
        )
        await self._close(code, reason)

    def hub_revoked(self) -> Awaitable[None]:
        """Marked at once, so no note goes out after this, then closed with REVOKED."""
        self.revoked = True
        log_event(log, "ws_revoked", conn=self.conn_id, user=self._who())
        return self._close(CloseCode.REVOKED, "credentials revoked")

    def hub_dropped(self, error: BaseException) -> None:
        """A send to this socket failed: close it with 1011 (it resumes), or cut the TCP."""
        self.hub = None  # the hub has already let go
        asyncio.get_running_loop().create_task(self._close_after_failure())

    async def _close_after_failure(self) -> None:
        if not self.closing:
            try:
                await self._close(CloseCode.INTERNAL_ERROR, "sending failed; resume")
                return
            except Exception:
                pass
        # The close itself failed (or was what failed): end the TCP connection.
        connection = daphne_protocol(self.base_send)
        if connection is not None and connection.transport is not None:
            connection.transport.abortConnection()

    # Internals.

    async def _close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            # A plain int: autobahn refuses any other type, an IntEnum included.
            await self.close(code=int(code), reason=reason)

    def _write_note(
        self, payload: dict[str, Any], note_frames: frames.NoteFrames | None
    ) -> Awaitable[None] | None:
        """Write one live note unless already sent; an awaitable only for the ASGI send.

        A plain function, not a coroutine: in a broadcast most sockets take
        the frame straight away (``realtime.patches.direct_write``), and a coroutine per socket
        would be made only to finish at once. The caller awaits what comes
        back before the next note, so the order on the socket is kept.
        """
        if payload["id"] <= self.last_sent or self.revoked:
            return None
        recipient = payload["recipient_id"]
        if recipient is not None and recipient != self.user_id:
            return None  # the hub routes by recipient; this is the second lock on the door
        if note_frames is None:
            note_frames = frames.NoteFrames(payload)
        muted, off = frames.marks(self.preferences, payload["kind"])
        if self.writer is not None and self.writer.write(
            note_frames.wire(self.language, muted, off)
        ):
            self.last_sent = payload["id"]
            return None
        return self._send_note(payload["id"], note_frames.text(self.language, muted, off))

    async def _send_note(self, note_id: int, text: str) -> None:
        # Counted as sent once the send returned: a send that raises leaves
        # last_sent where it was (the hub then drops this socket).
        await self.send(text)
        self.last_sent = note_id

    def _close_at_expiry(self) -> None:
        """A token with an expiry closes its socket then, in this process, with no event."""
        expires = self.credential.expires if self.credential is not None else None
        if expires is None:
            return
        delay = max(0.0, (expires - timezone.now()).total_seconds())
        self.expiry = asyncio.get_running_loop().call_later(delay, self._expired)

    def _expired(self) -> None:
        self.expiry = None
        if self.closing:
            return
        self.revoked = True
        if self.hub is not None:
            self.hub.remove(self)
        metrics.clients_cut_off.labels("token_expired").inc()
        log_event(log, "ws_token_expired", conn=self.conn_id, user=self._who())
        asyncio.get_running_loop().create_task(self._close(CloseCode.REVOKED, "token expired"))

    def _session_key(self) -> str | None:
        """The session this socket's access hangs on (its cookie's, or the one a ticket
        was made under); None for a token or an anonymous socket."""
        credential = self.credential
        if credential is None or credential.token_id is not None:
            return None
        return credential.session_key

    def _close_at_session_expiry(self, expires: datetime.datetime | None) -> None:
        """Arm the one timer of a session socket for the session's stored expiry.

        None (the session ended between the handshake and now) fires at once.
        """
        delay = 0.0
        if expires is not None:
            delay = (expires - timezone.now()).total_seconds() + SESSION_EXPIRY_SLACK_SECONDS
        self._arm_session_timer(max(0.0, delay))

    def _arm_session_timer(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_later(
            delay, lambda: setattr(self, "expiry", loop.create_task(self._session_due()))
        )

    async def _session_due(self) -> None:
        """At the session's expiry: read it again, since another tab may have extended
        it (``SESSION_SAVE_EVERY_REQUEST``, ``set_expiry``); re-arm for the new date,
        or close with ``REVOKED``."""
        if self.closing:
            return
        try:
            expires = await self._db(inbox.session_expires)(session_key=self._session_key())
        except Exception as exc:
            log_event(
                log,
                "ws_session_recheck_failed",
                logging.WARNING,
                conn=self.conn_id,
                error=repr(exc),
            )
            self._arm_session_timer(SESSION_RECHECK_RETRY_SECONDS)
            return
        if self.closing:
            return
        if expires is not None:
            self._close_at_session_expiry(expires)
            return
        self.expiry = None
        self.revoked = True
        if self.hub is not None:
            self.hub.remove(self)
        metrics.clients_cut_off.labels("session_expired").inc()
        log_event(log, "ws_session_expired", conn=self.conn_id, user=self._who())
        await self._close(CloseCode.REVOKED, "session expired")

    def _db(self, fn):
        """``fn`` on the database pool as this socket's user's work (``realtime.db``)."""
        return run_in_db_thread(fn, owner=self.user_id)

    async def _replay(self, after: int, slots: asyncio.Semaphore) -> tuple[bool, int]:
        """Send every visible note after ``after``; False if the client stopped reading,
        and how far notes the user could see were pruned (read with the last page).

        A page is read and made into frames while holding one of the process's
        replay slots (``NOTES_REPLAYS_AT_ONCE``), so however many clients
        resume at once only a few replays take database and loop time. Each
        note then waits, outside the slot, until the client has read all but a
        little of what was sent before (``realtime.patches.output_cap``), so a
        replay never piles up in memory for a client that does not keep up.
        """
        connection = daphne_protocol(self.base_send)
        size = REPLAY_PAGE
        while True:
            async with slots:
                page, pruned_upto = await self._db(_replay_page)(self.user, after, size)
                # Frames replace the payloads as they are built: a slow reader's
                # page waits in memory once, not twice.
                largest = 1
                for index, (payload, read, archived) in enumerate(page):
                    muted, off = frames.marks(self.preferences, payload["kind"])
                    text = frames.note(
                        payload,
                        read=read,
                        language=self.language,
                        archived=archived,
                        muted=muted,
                        channels_off=off,
                    )
                    page[index] = (payload["id"], text)
                    largest = max(largest, len(text))
                    if not (index + 1) % REPLAY_FRAMES_BETWEEN_YIELDS:
                        await asyncio.sleep(0)
            for note_id, text in page:
                if self.closing:
                    return True, 0  # closed meanwhile (revoked, say): send nothing more
                if (
                    connection is not None
                    and buffered_bytes(connection.transport) > DRAIN_LOW_WATER
                    and not await drained(connection, within=conf.WS_DRAIN_TIMEOUT_SECONDS)
                ):
                    return False, 0
                await self.send(text)
                after = self.last_sent = note_id
            metrics.notes_replayed.inc(len(page))
            metrics.frames_delivered.labels("replay").inc(len(page))
            if pruned_upto is not None:  # a page shorter than asked: the last
                return True, pruned_upto
            size = max(REPLAY_PAGE, min(REPLAY_PAGE_MAX, REPLAY_PAGE_BYTES // largest))

    def _who(self) -> str:
        return str(self.user_id) if self.user_id is not None else "anonymous"


def _hello_facts(
    user, credential, session_key: str | None
) -> tuple[bool, int, int, datetime.datetime | None, Any]:
    """Whether ``credential`` (None: no need to ask) still holds, the unread count,
    the newest id, when the session ``session_key`` (if any) ends, and the
    user's preferences (they decide what counts as unread): all read here, on
    the hop the connect makes anyway."""
    if credential is not None and not inbox.credentials_still_valid([credential])[0]:
        return False, 0, 0, None, inbox.NO_PREFERENCES
    preferences = inbox.note_preferences(user=user)
    unread, last_id = inbox.note_unread_and_last_id(user=user, preferences=preferences)
    expires = inbox.session_expires(session_key=session_key) if session_key else None
    return True, unread, last_id, expires, preferences


def _replay_page(user, after: int, limit: int) -> tuple[list[tuple[Any, ...]], int | None]:
    """(payload, read, archived) for each note of the next page, which the replay turns
    into (id, frame); and, on the last page, how far notes the user could see were pruned."""
    page = inbox.note_replay_page(user=user, after=after, limit=limit)
    rows = [
        (inbox.note_payload(n), n.id in page.read_ids, n.id in page.archived_ids)
        for n in page.notes
    ]
    return rows, page.pruned_upto


def _anonymous_replay_start(after: int, depth: int) -> tuple[int, bool]:
    """Where an anonymous replay from ``after`` starts so that it sends at most ``depth``
    notes (the newest), and whether that skips any."""
    start = inbox.note_nth_newest_visible_id(user=None, n=depth + 1)
    if start is None or start <= after:
        return after, False
    return start, True
