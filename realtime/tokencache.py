"""Token handshakes without the database: snapshots in Redis that revocation still beats (issue 15).

A restart sends every client of a process back at once, and each token
handshake was a database lookup (57 % of a reconnect storm's database time).
So a token's check is cached in the Redis every server process shares
(``NOTES_LIMITS_REDIS``), keyed by the token's stored hash, never the token:
a small :class:`Snapshot` (user pk, username, ``date_joined``, token id and
expiry) is written on a miss, and when a token is issued (``token_issued``),
so even its first connect hits. It lives ``NOTES_TOKEN_CACHE_SECONDS``.

A snapshot is only believed if it was read from the database after the last
credential change of its user that this process knows (:class:`KnownChanges`,
with ``NOTES_TOKEN_CACHE_SKEW_SECONDS`` of margin for clocks between hosts).
The hub learns each change over the layer at once and from the change log on
every catch-up, and the process reads the recent log when it starts; so a
deleted token, a password change, ``is_active=False``, a deleted user or
"log out everywhere" stops new handshakes as soon as this process hears of it,
even if the Redis delete that also follows each change (the fast path,
:meth:`TokenCache.forget_user`) is lost. If this process has not read the log
lately (its hub not started, or failing), nothing cached is believed.

Redis down, slow or off: the database answers, as before; a valid token is
never refused because the cache failed. ``ApiToken.last_used`` is written
only by database checks (misses), so with the cache it lags by up to the
cache's lifetime (docs/security.md).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.utils.dateparse import parse_datetime

from note import inbox
from realtime import conf, metrics
from realtime.logs import log_event

log = logging.getLogger(__name__)

# Users whose last change one process remembers. Past it the oldest is
# forgotten and everything cached before it is distrusted (``KnownChanges.floor``).
KNOWN_USERS_MAX = 100_000
# The change log must have been read within this many catch-up periods (plus
# the read's own time limit) for anything cached to be believed.
FRESH_PERIODS = 3
FRESH_GRACE_SECONDS = 2.0
# After Redis fails, the cache is not asked again for this long.
DOWN_RETRY_SECONDS = 1.0
# Commands sent to Redis in one pipeline, at most (``RoundTrips``).
ROUND_TRIP_MAX = 1000
# Forgets of one user's snapshots in flight at once; past it they are skipped
# (the change is known here anyway, and the snapshots expire).
FORGETS_IN_FLIGHT_MAX = 1000

# KEYS: the user's set of token hashes. ARGV: the snapshot key prefix.
# The snapshot keys are built here, not passed: fine on a single Redis or
# Sentinel (what channels-redis supports), not on Redis Cluster.
FORGET_SCRIPT = """
local hashes = redis.call('SMEMBERS', KEYS[1])
for _, h in ipairs(hashes) do
  redis.call('DEL', ARGV[1] .. h)
end
redis.call('DEL', KEYS[1])
return #hashes
"""


@dataclass(frozen=True)
class Snapshot:
    """What a token handshake needs of a token and its user, and when it was read."""

    user_key: str
    username: str
    date_joined: str | None
    token_id: int
    expires: float | None
    cached_at: float

    @classmethod
    def of_token(cls, token: Any, *, read_at: float) -> Snapshot:
        """The snapshot of a live token (``token_authenticate``'s answer) read from
        the database at or after ``read_at`` (wall clock)."""
        user = token.user
        joined = getattr(user, "date_joined", None)
        return cls(
            user_key=str(user.pk),
            username=user.get_username(),
            date_joined=joined.isoformat() if joined is not None else None,
            token_id=token.pk,
            expires=token.expires.timestamp() if token.expires is not None else None,
            cached_at=read_at,
        )

    def dumps(self) -> str:
        return json.dumps(
            [
                self.user_key,
                self.username,
                self.date_joined,
                self.token_id,
                self.expires,
                self.cached_at,
            ]
        )

    @classmethod
    def loads(cls, text: str | bytes) -> Snapshot | None:
        """The snapshot written by ``dumps``; None for anything else (an older format)."""
        try:
            user_key, username, joined, token_id, expires, cached_at = json.loads(text)
            return cls(str(user_key), str(username), joined, int(token_id), expires, cached_at)
        except (ValueError, TypeError):
            return None

    def user(self):
        """The user, with only the cached fields loaded: any other field is read from
        the database if something asks for it, and a ``save()`` writes only these."""
        User = get_user_model()
        known = {
            User._meta.pk.attname: User._meta.pk.to_python(self.user_key),
            User.USERNAME_FIELD: self.username,
            "date_joined": parse_datetime(self.date_joined) if self.date_joined else None,
            "is_active": True,
        }
        fields = [f.attname for f in User._meta.concrete_fields if f.attname in known]
        return User.from_db(DEFAULT_DB_ALIAS, fields, [known[f] for f in fields])

    def credential(self) -> inbox.Credential:
        expires = (
            datetime.datetime.fromtimestamp(self.expires, tz=datetime.UTC)
            if self.expires is not None
            else None
        )
        return inbox.Credential(user_key=self.user_key, token_id=self.token_id, expires=expires)


class KnownChanges:
    """The credential changes this process knows of: user key -> when it learned of
    the newest (wall clock), and when its newest complete read of the change log began.

    Fed by the hub (``Hub._learn_change``); asked by :func:`token_identity`.
    """

    def __init__(self, *, max_users: int = KNOWN_USERS_MAX) -> None:
        self.max_users = max_users
        self.changed: dict[str, float] = {}  # in the order learned, so oldest first
        self.floor = float("-inf")
        self.read_at = float("-inf")
        self.loaded = False

    def learned(self, user_key: str, *, at: float | None = None) -> None:
        """``user_key``'s credentials changed, committed before ``at`` (default: now)."""
        at = time.time() if at is None else at
        self.changed.pop(user_key, None)
        self.changed[user_key] = at
        while len(self.changed) > self.max_users:
            oldest = next(iter(self.changed))
            self.floor = max(self.floor, self.changed.pop(oldest))

    def log_read(self, *, started: float) -> None:
        """A read of the change log that began at ``started`` has been applied."""
        self.read_at = max(self.read_at, started)

    def forget_before(self, moment: float) -> None:
        """Drop users whose change is older than ``moment``: anything cached before
        then has expired (``NOTES_TOKEN_CACHE_SECONDS``) and is refused for that."""
        while self.changed:
            oldest, at = next(iter(self.changed.items()))
            if at >= moment:
                return
            del self.changed[oldest]

    def fresh(self, *, now: float, within: float) -> bool:
        """Has the change log been read in full, and lately?"""
        return self.loaded and now - self.read_at <= within

    def trusts(self, snapshot: Snapshot, *, skew: float) -> bool:
        """Was ``snapshot`` read after its user's last known change (by ``skew``)?"""
        last = max(self.floor, self.changed.get(snapshot.user_key, float("-inf")))
        return snapshot.cached_at > last + skew


known = KnownChanges()


class RoundTrips:
    """Commands that many handshakes queue in one turn of the event loop, sent to Redis
    together in one pipeline (up to ``ROUND_TRIP_MAX`` commands).

    A storm is thousands of handshakes at once: one command each would take
    one pooled connection each, and redis-py's asyncio pool raises past 100
    (``MaxConnectionsError``, seen in bench/token_storm.py at 300 clients).
    Batched, a storm makes a few round trips on a few connections.
    """

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        self.queued: list[tuple[Callable[[Any], Any], int, asyncio.Future]] = []
        self.sending: set[asyncio.Task] = set()

    def call(self, add: Callable[[Any], Any], count: int) -> asyncio.Future:
        """Queue ``add(pipeline)``, which adds ``count`` commands; the future gets their
        answers (or the first error)."""
        answer = self.loop.create_future()
        if not self.queued:
            self.loop.call_soon(self._send)
        self.queued.append((add, count, answer))
        return answer

    def _send(self) -> None:
        queued, self.queued = self.queued, []
        batch: list = []
        commands = 0
        for call in queued:
            batch.append(call)
            commands += call[1]
            if commands >= ROUND_TRIP_MAX:
                self._start(batch)
                batch, commands = [], 0
        if batch:
            self._start(batch)

    def _start(self, batch: list) -> None:
        task = self.loop.create_task(self._run(batch))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _run(self, batch: list) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for add, _, _ in batch:
                    add(pipe)
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        at = 0
        for _, count, answer in batch:
            mine, at = results[at : at + count], at + count
            if answer.done():  # its handshake gave up meanwhile
                continue
            error = next((r for r in mine if isinstance(r, Exception)), None)
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(mine)


class TokenCache:
    """Snapshots in Redis: ``<prefix>:t:<token hash>``, and ``<prefix>:u:<user pk>``, the
    set of that user's cached hashes (so a change can delete them all)."""

    def __init__(self, connection: str | dict[str, Any], prefix: str, seconds: float) -> None:
        self.connection = connection
        self.prefix = prefix
        self.seconds = seconds
        self.sync_client = inbox.redis_client(connection, asyncio_client=False)
        self.async_clients: dict[int, Any] = {}
        self.round_trips: dict[int, RoundTrips] = {}
        self.down_until = 0.0

    def _async_client(self):
        loop = asyncio.get_running_loop()
        client = self.async_clients.get(id(loop))
        if client is None:
            client = self.async_clients[id(loop)] = inbox.redis_client(
                self.connection, asyncio_client=True
            )
        return client

    def _token_key(self, key_hash: str) -> str:
        return f"{self.prefix}:t:{key_hash}"

    def _user_key(self, user_key: str) -> str:
        return f"{self.prefix}:u:{user_key}"

    @property
    def down(self) -> bool:
        return time.monotonic() < self.down_until

    def failed(self, exc: BaseException, doing: str) -> None:
        self.down_until = time.monotonic() + DOWN_RETRY_SECONDS
        metrics.token_cache_errors.inc()
        log_event(log, "token_cache_failed", logging.WARNING, doing=doing, error=repr(exc))

    def _round_trips(self) -> RoundTrips:
        loop = asyncio.get_running_loop()
        trips = self.round_trips.get(id(loop))
        if trips is None:
            trips = self.round_trips[id(loop)] = RoundTrips(self._async_client(), loop)
        return trips

    async def lookup(self, key_hash: str) -> Snapshot | None:
        key = self._token_key(key_hash)
        (text,) = await self._round_trips().call(lambda pipe: pipe.get(key), 1)
        return Snapshot.loads(text) if text is not None else None

    def _store(self, pipe, key_hash: str, snapshot: Snapshot) -> None:
        ttl = max(1, int(self.seconds))
        users = self._user_key(snapshot.user_key)
        pipe.set(self._token_key(key_hash), snapshot.dumps(), ex=ttl)
        pipe.sadd(users, key_hash)
        pipe.expire(users, ttl)

    async def store(self, key_hash: str, snapshot: Snapshot) -> None:
        await self._round_trips().call(lambda pipe: self._store(pipe, key_hash, snapshot), 3)

    def store_sync(self, key_hash: str, snapshot: Snapshot) -> None:
        with self.sync_client.pipeline(transaction=True) as pipe:
            self._store(pipe, key_hash, snapshot)
            pipe.execute()

    async def forget_user(self, user_key: str) -> int:
        """Delete every snapshot of ``user_key``; how many there were."""
        return await self._async_client().eval(
            FORGET_SCRIPT, 1, self._user_key(user_key), f"{self.prefix}:t:"
        )


_cache: tuple[Any, TokenCache | None] | None = None  # (the settings it was made for, the cache)


def current() -> TokenCache | None:
    """The cache for the current settings; None when it is off (no shared Redis, or
    ``NOTES_TOKEN_CACHE_SECONDS`` None). Made again when the settings change (tests)."""
    global _cache
    key = (inbox.shared_redis(), conf.TOKEN_CACHE_PREFIX, conf.TOKEN_CACHE_SECONDS)
    if _cache is None or _cache[0] != key:
        connection, prefix, seconds = key
        made = TokenCache(connection, prefix, seconds) if connection and seconds else None
        _cache = (key, made)
    return _cache[1]


def fresh_within() -> float:
    return FRESH_PERIODS * conf.CATCH_UP_SECONDS + FRESH_GRACE_SECONDS


async def token_identity(raw: str, authenticate) -> tuple[Any, inbox.Credential] | None:
    """(user, credential) of the live token ``raw``, or None for a bad, expired or revoked one.

    From the cache when it has a snapshot this process may believe; else
    ``await authenticate(raw)`` (the database check, which raises on database
    trouble) answers, and its answer is cached. Counted in
    ``realtime_token_checks{path}``.
    """
    if not raw or len(raw) > inbox.MAX_TOKEN_LENGTH:
        return None
    cache = current()
    now = time.time()
    if cache is None:
        return await _from_database(raw, authenticate, None, "off")
    if cache.down:
        return await _from_database(raw, authenticate, None, "down")
    if not known.fresh(now=now, within=fresh_within()):
        return await _from_database(raw, authenticate, None, "unsure")
    key_hash = inbox.secret_hash(raw)
    try:
        snapshot = await cache.lookup(key_hash)
    except Exception as exc:
        cache.failed(exc, "lookup")
        return await _from_database(raw, authenticate, None, "down")
    if snapshot is None:
        return await _from_database(raw, authenticate, (cache, key_hash), "miss")
    if (
        snapshot.cached_at + cache.seconds <= now
        or (snapshot.expires is not None and snapshot.expires <= now)
        or not known.trusts(snapshot, skew=conf.TOKEN_CACHE_SKEW_SECONDS)
    ):
        return await _from_database(raw, authenticate, (cache, key_hash), "stale")
    metrics.token_checks.labels("cached").inc()
    return snapshot.user(), snapshot.credential()


async def _from_database(raw: str, authenticate, store_in, path: str):
    metrics.token_checks.labels(path).inc()
    read_at = time.time()  # before the read (and its wait for a thread): never later than it
    token = await authenticate(raw)
    if token is None:
        return None
    if store_in is not None:
        cache, key_hash = store_in
        try:
            await cache.store(key_hash, Snapshot.of_token(token, read_at=read_at))
        except Exception as exc:
            cache.failed(exc, "store")
    return token.user, inbox.Credential.of_token(token)


def cache_issued_token(*, token_id: int, key_hash: str) -> None:
    """Write a just-issued token's snapshot (after its commit), so that even its first
    handshake needs no database. Read from the database, not taken from the
    issuer: a user deactivated meanwhile is not cached as active."""
    cache = current()
    if cache is None or cache.down:
        return
    read_at = time.time()
    try:
        token = inbox.token_live_by_id(token_id=token_id)
        if token is not None:
            cache.store_sync(key_hash, Snapshot.of_token(token, read_at=read_at))
    except Exception as exc:
        cache.failed(exc, "store_issued")


_forgets: set[asyncio.Task] = set()


def credentials_changed(user_key: str) -> None:
    """The hub heard that ``user_key``'s credentials changed: from now on this process
    believes no snapshot of theirs read before now, and their snapshots are
    deleted from Redis (in the background: the hub does not wait on Redis)."""
    known.learned(user_key)
    cache = current()
    if cache is None or cache.down or len(_forgets) >= FORGETS_IN_FLIGHT_MAX:
        return
    task = asyncio.get_running_loop().create_task(_forget(cache, user_key))
    _forgets.add(task)
    task.add_done_callback(_forgets.discard)


async def _forget(cache: TokenCache, user_key: str) -> None:
    try:
        await cache.forget_user(user_key)
    except Exception as exc:
        cache.failed(exc, "forget")


def changes_read(*, started: float) -> None:
    """The hub applied a read of the change log that began at ``started`` (wall clock)."""
    known.log_read(started=started)
    seconds = conf.TOKEN_CACHE_SECONDS
    if seconds:
        known.forget_before(time.time() - seconds - conf.TOKEN_CACHE_SKEW_SECONDS)


def users_changed_lately() -> set[str]:
    """Every user whose credentials changed within the cache's lifetime (and the
    log's look-back, for a change whose transaction ran long): read once per
    process on a database thread, before anything cached is believed."""
    seconds = conf.TOKEN_CACHE_SECONDS or 0
    margin = conf.TOKEN_CACHE_SKEW_SECONDS + inbox.CHANGES_LOOKBACK.total_seconds()
    since = datetime.datetime.fromtimestamp(time.time() - seconds - margin, tz=datetime.UTC)
    return inbox.credential_change_users_since(since=since)


def changes_loaded(users: set[str]) -> None:
    """Apply ``users_changed_lately``'s answer, read in full just now (on the event loop)."""
    now = time.time()
    for user_key in users:
        known.learned(user_key, at=now)
    known.loaded = True
