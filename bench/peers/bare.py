"""Peer 3: the practical limit for Python, a bare ``websockets`` server.

One Redis subscription for the whole process. A message is a JSON note
(``{"note": {...}, "user": id|null}``); the frame is serialized once and
handed to ``websockets.broadcast``, which writes it to every socket without
a task per connection. Targeted notes go to the sockets of ``?user=<id>``.
Nothing else: no database, no authentication, no ordering checks.

Run: ``python -m bench.peers.bare PORT REDIS_URL CHANNEL``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as redis
from websockets.asyncio.server import ServerConnection, broadcast, serve

everyone: set[ServerConnection] = set()
by_user: dict[int, set[ServerConnection]] = {}


async def handler(conn: ServerConnection) -> None:
    query = parse_qs(urlsplit(conn.request.path).query)
    user = int(query["user"][0]) if "user" in query else None
    everyone.add(conn)
    if user is not None:
        by_user.setdefault(user, set()).add(conn)
    try:
        await conn.wait_closed()
    finally:
        everyone.discard(conn)
        if user is not None:
            by_user.get(user, set()).discard(conn)


async def relay(redis_url: str, channel: str) -> None:
    client = redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    async for message in pubsub.listen():
        data = json.loads(message["data"])
        frame = json.dumps({"type": "note", "note": data["note"]}, separators=(",", ":"))
        user = data.get("user")
        broadcast(everyone if user is None else by_user.get(user, ()), frame)


async def main(port: int, redis_url: str, channel: str) -> None:
    async with serve(handler, "127.0.0.1", port, backlog=2048, max_size=2**16):
        await relay(redis_url, channel)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
