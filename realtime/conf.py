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
}


def __getattr__(name: str) -> Any:
    key = f"NOTES_{name}"
    if key not in DEFAULTS:
        raise AttributeError(f"no setting {key}")
    return getattr(settings, key, DEFAULTS[key])
