"""Peer 2: the pattern the Channels tutorial teaches, as an ASGI app for daphne.

Every consumer joins the group ``broadcast`` (and ``user_<id>`` for targeted
notes) with ``group_add``; the publisher calls ``group_send``; each consumer's
handler calls ``send_json``, which serializes the note again for every socket.
No database, no authentication: it is the cheapest honest version of the
tutorial, so any gap to our server is the pattern's cost, not extra work.

Run: ``BENCH_LAYER=pubsub|core REDIS_URL=... BENCH_PREFIX=...``
``daphne bench.peers.tutorial:application``.
``pubsub`` is ``RedisPubSubChannelLayer``; ``core`` is the tutorial's default
``RedisChannelLayer`` (one Redis sorted set per consumer channel).
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

import django
from django.conf import settings

LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-tutorial-peer",
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": LAYERS[os.environ.get("BENCH_LAYER", "pubsub")],
            "CONFIG": {
                "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
                "prefix": os.environ.get("BENCH_PREFIX", "bench-tutorial"),
            },
        }
    },
    LOGGING_CONFIG=None,
)
django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

BROADCAST = "broadcast"


class NotesConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope["query_string"].decode())
        self.joined = [BROADCAST]
        if "user" in query:
            self.joined.append(f"user_{int(query['user'][0])}")
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def note_message(self, event: dict) -> None:
        await self.send_json({"type": "note", "note": event["note"]})


application = URLRouter([path("ws/notes/", NotesConsumer.as_asgi())])
