"""Publishing a note into each server, and the moment that starts the clock.

Ours: the real service functions in this (Django) process. The clock starts
when the transaction commits: an ``on_commit`` callback registered *before*
the app's own (callbacks run in order), so it stamps the commit itself, and
the app's callback then hands the note to the Redis layer as in production.

Peers: the clock starts just before ``group_send`` (tutorial) or ``PUBLISH``
(bare), and the note they carry has the same fields and size as ours.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Coroutine
from typing import Any

CONTENT = (
    "Release notes: faster fan-out, resumable connections and a new client. "
    "Read the whole post for the details, the numbers and how to upgrade. "
) * 2


class LoopThread:
    """An event loop on a thread of its own, for the async Redis clients of the peers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="bench-io")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class OursPublisher:
    """Notes through the app: ``news_publish`` (public) and ``note_create`` (one user)."""

    def __init__(self, author_id: int) -> None:
        from django.contrib.auth import get_user_model

        self.user_model = get_user_model()
        self.author = self.user_model.objects.get(pk=author_id)
        self.count = itertools.count(1)

    def public(self) -> tuple[int, float]:
        from django.db import transaction

        from news.services import news_publish
        from note.models import Note

        stamp: list[float] = []
        with transaction.atomic():
            transaction.on_commit(lambda: stamp.append(time.monotonic()))
            news = news_publish(
                author=self.author, title=f"Bench news {next(self.count)}", content=CONTENT
            )
        _let_publisher_send()
        note_id = Note.objects.values_list("id", flat=True).get(url=news.get_absolute_url())
        return note_id, stamp[0]

    def to_user(self, user_id: int) -> tuple[int, float]:
        from django.db import transaction

        from note.services import note_create

        stamp: list[float] = []
        with transaction.atomic():
            transaction.on_commit(lambda: stamp.append(time.monotonic()))
            (note,) = note_create(
                kind="bench.direct",
                title=f"Direct note {next(self.count)}",
                content=CONTENT,
                url="/news/",
                recipients=[self.user_model(pk=user_id)],  # a reference, not a query
            )
        _let_publisher_send()
        return note.id, stamp[0]

    def many_public(self, count: int) -> int:
        """``count`` public notes as fast as the database takes them; the last id."""
        from note.services import note_create

        last = 0
        for i in range(count):
            (note,) = note_create(kind="bench.bulk", title=f"Missed note {i}", content=CONTENT)
            last = note.id
        return last


def _let_publisher_send() -> None:
    """Wait (GIL released) while the app's publisher thread hands the note to Redis.

    In a server the publisher runs on the server's event loop. Here it is a
    thread of this process, and if this thread went on with Python work it
    would hold the GIL for up to the 5 ms switch interval, adding that to every
    measured latency; the peers' publishes do not pay it either.
    """
    from realtime.publisher import publisher

    publisher.flush(timeout=5)


def peer_note(note_id: int, user: int | None) -> dict[str, Any]:
    """The same fields and size as our note frame."""
    return {
        "id": note_id,
        "kind": "news.published" if user is None else "bench.direct",
        "title": f"bench-poster posted news: Bench news {note_id}",
        "content": CONTENT,
        "url": f"/news/{note_id}/",
        "actor": "bench-poster",
        "public": user is None,
        "created": "2026-01-01T00:00:00.000Z",
        "read": False,
    }


class TutorialPublisher:
    """``group_send`` to ``broadcast`` or ``user_<id>``, as the tutorial's producer does."""

    def __init__(self, io: LoopThread, backend: str, prefix: str, redis_url: str) -> None:
        from channels_redis.core import RedisChannelLayer
        from channels_redis.pubsub import RedisPubSubChannelLayer

        cls = RedisPubSubChannelLayer if backend == "pubsub" else RedisChannelLayer
        self.io = io
        self.layer = cls(hosts=[redis_url], prefix=prefix)
        self.ids = itertools.count(1)

    def public(self) -> tuple[int, float]:
        return self._send(None)

    def to_user(self, user_id: int) -> tuple[int, float]:
        return self._send(user_id)

    def _send(self, user: int | None) -> tuple[int, float]:
        note_id = next(self.ids)
        group = "broadcast" if user is None else f"user_{user}"
        message = {"type": "note.message", "note": peer_note(note_id, user)}

        async def send() -> float:
            start = time.monotonic()
            await self.layer.group_send(group, message)
            return start

        return note_id, self.io.run(send())

    def close(self) -> None:
        """Delete what the layer left in Redis under its private prefix."""
        self.io.run(self.layer.flush())


class BarePublisher:
    """One ``PUBLISH`` per note on the bare server's channel."""

    def __init__(self, io: LoopThread, redis_url: str, channel: str) -> None:
        import redis.asyncio as redis

        self.io = io
        self.channel = channel
        self.client = redis.from_url(redis_url)
        self.ids = itertools.count(1)

    def public(self) -> tuple[int, float]:
        return self._send(None)

    def to_user(self, user_id: int) -> tuple[int, float]:
        return self._send(user_id)

    def _send(self, user: int | None) -> tuple[int, float]:
        note_id = next(self.ids)
        data = json.dumps({"note": peer_note(note_id, user), "user": user})

        async def send() -> float:
            start = time.monotonic()
            await self.client.publish(self.channel, data)
            return start

        return note_id, self.io.run(send())

    def close(self) -> None:
        pass
