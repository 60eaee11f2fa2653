"""Limits per user and per address: login attempts, publishing, mark-read, handshakes, sockets.

Each limit is a setting ``NOTES_LIMIT_<NAME>`` holding a rate such as
``"30/1m"`` (30 in one fixed window of a minute; units ``s``, ``m``, ``h``) or
``None`` for no limit; ``NOTES_LIMIT_SOCKETS_PER_USER`` is a number of open
sockets. With ``NOTES_LIMITS_REDIS`` every process counts in the same Redis
(``note.counters``); without it each process counts alone.

A refusal is an HTTP ``429`` JSON answer with ``Retry-After``, or a WebSocket
closed with ``CloseCode.RATE_LIMITED`` (4429, ``realtime.handshake_limits``).
When the store fails (Redis down) the limit lets the request through, logs
it and counts ``notes_limit_store_errors``: a limit must not become an outage.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import Counter

from note import conf
from note.addresses import request_address
from note.counters import MemoryStore, RedisStore

log = logging.getLogger(__name__)

limit_refused = Counter(
    "notes_limit_refused", "Requests and handshakes refused by a limit", ["limit"]
)  # limit: login_per_address | login_per_username | publish_per_user | ...
limit_store_errors = Counter(
    "notes_limit_store_errors", "Limit checks let through because the counting store failed"
)

UNITS = {"s": 1, "m": 60, "h": 3600}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")
# After a store failure, checks let everything through for this long without
# asking it again, so a Redis that hangs costs one timeout, not one per request.
STORE_RETRY_SECONDS = 1.0

RATE_LIMITS = (
    "LOGIN_PER_ADDRESS",
    "LOGIN_PER_USERNAME",
    "PUBLISH_PER_USER",
    "MARK_READ_PER_USER",
    "HANDSHAKES_PER_ADDRESS",
    "HANDSHAKES_PER_USER",
)


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float


def parse_rate(value: Any) -> Rate | None:
    """``"30/1m"`` -> Rate(30, 60); ``None`` -> None. Raises ImproperlyConfigured when malformed."""
    if value is None:
        return None
    match = RATE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ImproperlyConfigured(
            f"a limit is a rate such as '30/1m' (count/window, window in s, m or h) "
            f"or None, not {value!r}"
        )
    return Rate(int(match.group(1)), int(match.group(2) or 1) * UNITS[match.group(3)])


class Limited(Exception):
    """A limit refused this; retry after ``retry_after`` seconds."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(f"{limit}: retry after {retry_after} s")
        self.limit = limit
        self.retry_after = retry_after


_store: tuple[Any, Any] | None = None  # (the settings it was made for, the store)
_store_down_until = 0.0


def store() -> MemoryStore | RedisStore:
    """The store for the current settings (made again when they change, as in tests)."""
    global _store
    key = (conf.LIMITS_REDIS, conf.LIMITS_PREFIX)
    if _store is None or _store[0] != key:
        made = RedisStore(conf.LIMITS_REDIS, conf.LIMITS_PREFIX) if conf.LIMITS_REDIS else None
        _store = (key, made or MemoryStore())
    return _store[1]


def shared_redis() -> str | dict[str, Any] | None:
    """``NOTES_LIMITS_REDIS``: the Redis every server process shares (None: none)."""
    return conf.LIMITS_REDIS


def _identity(value: Any) -> str:
    """A short, key-safe digest: usernames and addresses are not put in Redis keys as typed."""
    return hashlib.blake2b(str(value).encode(), digest_size=12).hexdigest()


def _store_failed(exc: Exception, limit: str) -> None:
    global _store_down_until
    _store_down_until = time.monotonic() + STORE_RETRY_SECONDS
    limit_store_errors.inc()
    log.warning("limit %s not counted, let through: %r", limit, exc)


def _rate(limit: str) -> Rate | None:
    return parse_rate(getattr(conf, f"LIMIT_{limit}"))


def check(limit: str, who: Any) -> None:
    """Count one request of ``who`` against ``NOTES_LIMIT_<limit>``; raise Limited past it."""
    counted = _counted(limit, who)
    if counted is not None:
        rate, key = counted
        try:
            count, left = store().hit(key, rate.seconds)
        except Exception as exc:
            return _store_failed(exc, limit)
        _judge(limit, rate, count, left)


async def acheck(limit: str, who: Any) -> None:
    """``check`` for the event loop."""
    counted = _counted(limit, who)
    if counted is not None:
        rate, key = counted
        try:
            count, left = await store().ahit(key, rate.seconds)
        except Exception as exc:
            return _store_failed(exc, limit)
        _judge(limit, rate, count, left)


def _counted(limit: str, who: Any) -> tuple[Rate, str] | None:
    """The rate and key ``who`` is counted under, or None when nothing counts."""
    rate = _rate(limit)
    if rate is None or who is None or time.monotonic() < _store_down_until:
        return None
    return rate, f"{limit.lower()}:{_identity(who)}"


def _judge(limit: str, rate: Rate, count: int, left: float) -> None:
    if count > rate.count:
        limit_refused.labels(limit.lower()).inc()
        raise Limited(limit.lower(), left)


async def socket_acquire(user_id: Any) -> Callable[[], Any] | None:
    """Take one of the user's ``NOTES_LIMIT_SOCKETS_PER_USER`` slots; Limited when none is free.

    Returns the coroutine function that gives the slot back (None: nothing to give back).
    """
    limit = conf.LIMIT_SOCKETS_PER_USER
    if limit is None or user_id is None or time.monotonic() < _store_down_until:
        return None
    current = store()
    key = _identity(user_id)
    try:
        granted = await current.socket_acquire(key, limit)
    except Exception as exc:
        _store_failed(exc, "SOCKETS_PER_USER")
        return None
    if not granted:
        limit_refused.labels("sockets_per_user").inc()
        raise Limited("sockets_per_user", 1)

    async def release() -> None:
        try:
            await current.socket_release(key)
        except Exception as exc:
            _store_failed(exc, "SOCKETS_PER_USER")

    return release


def too_many_requests(exc: Limited) -> HttpResponse:
    """The answer to a refused HTTP request: 429, JSON, and ``Retry-After``."""
    response = JsonResponse(
        {"error": "too many requests", "limit": exc.limit, "retry_after": exc.retry_after},
        status=429,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


def login_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a login view: each POST counts per address and per username, before any password
    is hashed; past ``NOTES_LIMIT_LOGIN_PER_ADDRESS`` or ``..._PER_USERNAME`` it answers 429."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            try:
                check("LOGIN_PER_ADDRESS", request_address(request))
                username = request.POST.get("username")
                check("LOGIN_PER_USERNAME", username.strip().lower() if username else None)
            except Limited as exc:
                log.warning("login refused by limit %s", exc.limit)
                return too_many_requests(exc)
        return view(request, *args, **kwargs)

    return wrapper
