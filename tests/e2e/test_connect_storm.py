"""Many clients connecting to one daphne process at the same moment (a restart, a network blip).

Correctness only: every connection gets its ``hello`` and ``synced``, and then
every note exactly once and in order. How fast a storm of 2,000 gets in is
measured by ``make bench`` (workload C in docs/performance.md), not here.
"""

import asyncio

import pytest

from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import post_news

pytestmark = pytest.mark.asyncio

CLIENTS = 200
USERS = 4


async def test_a_storm_of_connects_all_get_hello_synced_and_then_every_note_once(
    start_server, redis_url
):
    server = start_server(redis_url=redis_url)
    users = [await adb(make_user_with_token, "storm") for _ in range(USERS)]

    async def client(i: int):
        user, token = users[i % USERS]
        sock = await ws.connect(server.ws_url, token=token, open_timeout=60)
        hello, replayed, synced = await ws.handshake(sock, timeout=60)
        return sock, user, hello, replayed, synced

    results = await asyncio.gather(*(client(i) for i in range(CLIENTS)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {CLIENTS} failed, first: {failures[0]!r}"
    for _sock, user, hello, replayed, synced in results:
        assert hello["user"] == user.username
        assert replayed == []
        assert synced["last_id"] == hello["last_id"]

    token = users[0][1]
    first = await asyncio.to_thread(post_news, server, token, "after the storm")
    second = await asyncio.to_thread(post_news, server, token, "and another")
    socks = [r[0] for r in results]
    got = await asyncio.gather(
        *(ws.notes_until(s, lambda notes: len(notes) >= 2, timeout=60) for s in socks)
    )
    for notes in got:
        assert [n["url"] for n in notes] == [first["url"], second["url"]]
    extra = await asyncio.gather(*(ws.quiet(s, 0.5) for s in socks))
    assert all(frames == [] for frames in extra), "a note arrived twice"
    await asyncio.gather(*(s.close() for s in socks))
