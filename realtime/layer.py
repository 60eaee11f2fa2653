"""The channel layer that carries notes between server processes.

It is Channels' ``CHANNEL_LAYERS[NOTES_CHANNEL_LAYER]`` (``"default"``): with
channels-redis every process sees every note. A host that configures no
layer at all still works in one process: an in-memory layer is made here,
as the contract's v2 set-up promises, and ``realtime.checks`` warns when
that would not be enough (``DEBUG`` off).
"""

from __future__ import annotations

from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from realtime import conf

_in_process: InMemoryChannelLayer | None = None


def notes_layer() -> Any:
    """The layer to publish and listen on; looked up on each use (tests swap layers)."""
    global _in_process
    layer = get_channel_layer(conf.CHANNEL_LAYER)
    if layer is not None:
        return layer
    if _in_process is None:
        _in_process = InMemoryChannelLayer(capacity=10_000)
    return _in_process


def redis_hosts() -> list[dict[str, Any]]:
    """The Redis servers of a channels-redis layer, in its own form; [] for any other layer."""
    config = getattr(settings, "CHANNEL_LAYERS", {}).get(conf.CHANNEL_LAYER) or {}
    if not str(config.get("BACKEND", "")).startswith("channels_redis."):
        return []
    from channels_redis.utils import decode_hosts

    return decode_hosts(config.get("CONFIG", {}).get("hosts"))
