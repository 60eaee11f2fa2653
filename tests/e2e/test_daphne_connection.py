"""What an open socket costs daphne: nothing kept of its HTTP upgrade, frames on the fast path.

Both are invisible to a client, and both quietly depend on the Twisted,
autobahn and daphne releases installed (realtime/patches/direct_write.py), so they are
checked inside a real daphne process: live objects through the test-only
app of ``tests/support/inspect_asgi.py``, the writer through ``/metrics``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call, post_news
from tests.support.inspect_asgi import PATH
from tests.support.metrics import scrape, value

pytestmark = pytest.mark.asyncio

TOKEN_SOCKETS = 4


@pytest.fixture(scope="module")
def inspected(start_server):
    return start_server(app="tests.support.inspect_asgi:application")


def alive(server, *names: str) -> dict[str, int]:
    query = "&".join(f"type={name}" for name in names)
    status, body = call(f"{server.http_url}{PATH}?{query}")
    assert status == 200, body
    return body


async def alive_settled(server, expected: dict[str, int], timeout: float = 5.0) -> dict[str, int]:
    """Live counts once they match ``expected``, or the last counts after ``timeout``.

    Daphne itself keeps each upgraded request in its connection table until
    its application checker's next pass, once a second.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        counts = await asyncio.to_thread(alive, server, *expected)
        if counts == expected or asyncio.get_running_loop().time() > deadline:
            return counts
        await asyncio.sleep(0.2)


async def open_sockets(server):
    """Token sockets, plus an anonymous browser-style one (through the session middleware)."""
    user, token = await adb(make_user_with_token, "footprint")
    socks = [await ws.connect(server.ws_url, token=token) for _ in range(TOKEN_SOCKETS)]
    socks.append(await ws.connect(server.ws_url, origin=server.http_url))
    for sock in socks:
        await ws.handshake(sock)
    return token, socks


async def test_open_sockets_keep_nothing_of_their_http_upgrade(inspected):
    token, socks = await open_sockets(inspected)
    try:
        # The one request alive is the one asking: the sockets' upgrade requests are gone.
        expected = {"WebRequest": 1, "HTTPChannel": 1}
        assert await alive_settled(inspected, expected) == expected
        # Released, and still a working socket both ways.
        news = await asyncio.to_thread(post_news, inspected, token, "Still listening")
        for sock in socks:
            [note] = await ws.notes_until(sock, lambda notes: len(notes) >= 1)
            assert note["url"] == f"/news/{news['id']}/"
            await sock.send('{"type":"ping"}')
            assert await ws.recv(sock) == {"type": "pong"}
    finally:
        for sock in socks:
            await sock.close()


async def test_daphne_sockets_take_the_direct_write(inspected):
    before = await asyncio.to_thread(scrape, inspected)
    _, socks = await open_sockets(inspected)
    for sock in socks:
        await sock.close()
    after = await asyncio.to_thread(scrape, inspected)

    def accepted(writer: str) -> float:
        name = "realtime_connections_accepted_total"
        return value(after, name, writer=writer) - value(before, name, writer=writer)

    # A Twisted or autobahn release that renamed what realtime/patches/direct_write.py reads
    # would show here as "asgi": correct, but the fast path gone.
    assert (accepted("direct"), accepted("asgi")) == (len(socks), 0)
