"""Delivery's settings. Each is a Django setting of the name below; unset, the default holds.

Read at the moment of use (``conf.CATCH_UP_SECONDS`` reads ``NOTES_CATCH_UP_SECONDS``),
so ``override_settings`` works. ``realtime.checks`` says when one is unusable.
The channel layer itself is Channels' ``CHANNEL_LAYERS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The alias in CHANNEL_LAYERS that carries notes between processes. With
    # no such layer, an in-memory one serves this process only.
    "NOTES_CHANNEL_LAYER": "default",
    # How often each process reads notes the channel layer did not bring (a
    # Redis restart, a dropped message): the safety net of "nothing lost".
    "NOTES_CATCH_UP_SECONDS": 1.0,
    # Threads that run the sockets' database work, each with its own connection.
    "NOTES_DB_THREADS": 8,
    # Of those, how many one user's sockets may hold at once; the rest of
    # their work waits its turn behind other users' (realtime/db.py).
    "NOTES_DB_USER_SHARE": 2,
    # Database calls that may wait for a thread in one process; past it a
    # connect is closed with 1013 and a mark_read answered rate_limited. Each
    # socket has at most one call of its connect waiting, so this is about the
    # largest connect storm one process lets queue instead of turning away.
    "NOTES_DB_QUEUE_LIMIT": 10000,
    # How long a socket's database call (hello, a replay page, mark_read) may
    # run before the socket is closed with 1012 and resumes.
    "NOTES_DB_TIMEOUT_SECONDS": 5.0,
    # How long such a call may wait for a thread (a connect storm queues) before
    # it is dropped unrun and the socket is closed with 1012.
    "NOTES_DB_QUEUE_TIMEOUT_SECONDS": 30.0,
    # Replay pages read at once in one process (of NOTES_DB_THREADS); more
    # replays wait their turn, and the other threads stay free for the rest.
    "NOTES_REPLAYS_AT_ONCE": 4,
    # The most notes an anonymous ?after= replay sends (the newest ones);
    # its synced frame then says "capped": true.
    "NOTES_ANONYMOUS_REPLAY_NOTES": 100,
    # Per-socket flood control: frames per second, burst, and dropped frames
    # in a row before the socket is closed with 1008.
    "NOTES_WS_RATE_PER_SECOND": 20.0,
    "NOTES_WS_RATE_BURST": 40,
    "NOTES_WS_FLOOD_STRIKES": 20,
    # Bytes a socket may leave unread before it is closed with 1013 (it
    # resumes later), and how long a replay waits for a slow reader.
    "NOTES_WS_MAX_BUFFER_BYTES": 512 * 1024,
    "NOTES_WS_DRAIN_TIMEOUT_SECONDS": 30.0,
    # Who may read /metrics: a bearer token, and peer addresses. By default nobody.
    "NOTES_METRICS_TOKEN": None,
    "NOTES_METRICS_ALLOWED_IPS": (),
    # Origins (scheme://host[:port]) of other sites' pages that may open a
    # socket, besides the site's own; None: Django's CSRF_TRUSTED_ORIGINS.
    "NOTES_ALLOWED_ORIGINS": None,
    # The token cache (realtime.tokencache), in the Redis of NOTES_LIMITS_REDIS:
    # how long a token's snapshot lives (at most a day, the change log's
    # keep; None: no cache, every token handshake reads the database), the
    # clock difference between hosts it allows for, and its key prefix.
    "NOTES_TOKEN_CACHE_SECONDS": 3 * 3600,
    "NOTES_TOKEN_CACHE_SKEW_SECONDS": 2.0,
    "NOTES_TOKEN_CACHE_PREFIX": "notes-tokens",
}


def __getattr__(name: str) -> Any:
    key = f"NOTES_{name}"
    if key not in DEFAULTS:
        raise AttributeError(f"no setting {key}")
    return getattr(settings, key, DEFAULTS[key])
