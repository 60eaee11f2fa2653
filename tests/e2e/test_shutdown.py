"""SIGTERM (a deploy, ``systemctl restart``) closes sockets with 1001 and loses nothing."""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest
import websockets

from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import post_news
from tests.support.raw_ws import RawWebSocket, read_close_code_after_upgrade, upgrade_request

pytestmark = pytest.mark.asyncio


async def test_sigterm_closes_with_1001_and_the_client_resumes_without_loss(start_server):
    server = start_server()
    _, token = await adb(make_user_with_token, "term")
    sockets = [await ws.connect(server.ws_url, token=token) for _ in range(3)]
    anonymous = await ws.connect(server.ws_url, origin=server.http_url)
    for sock in [*sockets, anonymous]:
        await ws.handshake(sock)
    before = await asyncio.to_thread(post_news, server, token, "before the deploy")
    [seen] = await ws.notes_until(sockets[0], lambda notes: len(notes) >= 1, timeout=5)
    assert seen["url"] == before["url"]

    await asyncio.to_thread(server.stop)  # SIGTERM
    for sock in [*sockets, anonymous]:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv(sock, timeout=5)
        assert closed.value.rcvd is not None, "dropped without a close frame"
        assert closed.value.rcvd.code == 1001
    assert "shutdown_closed_websockets count=4 code=1001" in server.logs()

    # Notes committed while the server is down (another process, the admin...)
    from news.services import news_publish
    from tests.support.data import make_user

    author = await adb(make_user, "writer")
    meanwhile = [await adb(news_publish, author=author, title=f"down {i}") for i in range(2)]
    server.start()
    again = await ws.connect(server.ws_url, token=token, after=seen["id"])
    _, replayed, _ = await ws.handshake(again)
    assert [n["url"] for n in replayed] == [f"/news/{n.pk}/" for n in meanwhile]
    await again.close()


async def test_a_socket_that_connects_during_the_shutdown_grace_gets_1001(start_server):
    server = start_server()
    _, token = await adb(make_user_with_token, "late")
    # Holds the grace open: it never answers the server's close frame.
    lingering = RawWebSocket(server.port, token=token)
    # Connected before SIGTERM (so past the listening port, which closes first);
    # its handshake is sent only once the server has begun closing sockets.
    late = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    server.proc.send_signal(signal.SIGTERM)
    try:
        assert await asyncio.to_thread(lingering.read_close_code, 10) == 1001
        late.sendall(upgrade_request(server.port, token))
        assert await asyncio.to_thread(read_close_code_after_upgrade, late) == 1001
    finally:
        late.close()
        lingering.close()
        await asyncio.to_thread(server.stop)
