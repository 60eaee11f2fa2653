"""docs/deploy.md, proven: Debian's nginx in front of two daphne processes on one Redis."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call, post_news
from tests.support.nginx import Nginx

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def site(start_server, redis_url, tmp_path_factory):
    a = start_server(redis_url=redis_url, NOTES_CATCH_UP_SECONDS="60")
    b = start_server(redis_url=redis_url, NOTES_CATCH_UP_SECONDS="60")
    nginx = Nginx([a.port, b.port], tmp_path_factory.mktemp("nginx")).start()
    yield nginx, a, b
    nginx.stop()


async def test_a_client_behind_nginx_gets_notes_posted_through_either_process(site):
    nginx, a, b = site
    _, token = await adb(make_user_with_token, "proxied")
    # Several connections, so nginx's round robin puts them on both processes.
    socks = [await ws.connect(nginx.ws_url, token=token) for _ in range(4)]
    anonymous = await ws.connect(nginx.ws_url, origin=nginx.http_url)
    for sock in [*socks, anonymous]:
        await ws.handshake(sock)
    via_a = await asyncio.to_thread(post_news, a, token, "through process A")
    via_b = await asyncio.to_thread(post_news, b, token, "through process B")
    via_nginx = await asyncio.to_thread(post_news, nginx, token, "through nginx")
    expected = [via_a["url"], via_b["url"], via_nginx["url"]]
    for sock in [*socks, anonymous]:
        got = await ws.notes_until(sock, lambda notes: len(notes) >= 3, timeout=5)
        assert [n["url"] for n in got] == expected
        await sock.close()


async def test_pages_and_health_pass_through_nginx_metrics_and_foreign_origins_do_not(site):
    nginx, _, _ = site
    status, page = await asyncio.to_thread(call, f"{nginx.http_url}/")
    assert status == 200 and "<html" in page.lower()
    status, health = await asyncio.to_thread(call, f"{nginx.http_url}/healthz")
    assert (status, health) == (200, {"database": "ok", "channel_layer": "ok"})
    status, _ = await asyncio.to_thread(call, f"{nginx.http_url}/metrics")
    assert status == 404  # daphne would answer 127.0.0.1 (nginx) in debug mode
    with pytest.raises(Exception) as refused:
        await ws.connect(nginx.ws_url, origin="http://evil.example")
    assert getattr(getattr(refused.value, "response", None), "status_code", None) == 403


async def test_clients_of_a_stopping_process_reconnect_to_the_other_during_the_drain(
    start_server, redis_url, tmp_path_factory
):
    """A deploy: one process gets SIGTERM while notes flow. Its clients are closed with
    1001 and reconnect at once through nginx; the stopping process no longer listens,
    so every reconnect lands on the other one. None is accepted and then dropped (1006),
    and every note arrives once, in order."""
    a = start_server(redis_url=redis_url)
    b = start_server(redis_url=redis_url)
    nginx = Nginx([a.port, b.port], tmp_path_factory.mktemp("nginx-drain")).start()
    _, token = await adb(make_user_with_token, "deploy")
    closes: list[int | None] = []
    stop = asyncio.Event()

    async def follow(seen: list[dict]) -> None:
        """A client that reconnects at once, with ?after=, whenever it is closed."""
        after = None
        while not stop.is_set():
            sock = await ws.connect(nginx.ws_url, token=token, after=after)
            try:
                hello, replayed, _ = await ws.handshake(sock)
                after = hello["last_id"] if after is None else after
                for note in replayed:
                    seen.append(note)
                    after = note["id"]
                while not stop.is_set():
                    try:
                        frame = await ws.recv(sock, timeout=0.2)
                    except TimeoutError:
                        continue
                    if frame["type"] == "note":
                        seen.append(frame["note"])
                        after = frame["note"]["id"]
            except websockets.ConnectionClosed as exc:
                closes.append(exc.rcvd.code if exc.rcvd else None)
            finally:
                await sock.close()

    clients: list[list[dict]] = [[] for _ in range(8)]
    followers = [asyncio.create_task(follow(seen)) for seen in clients]
    await asyncio.sleep(1.5)  # all connected, on both processes
    posted = [await asyncio.to_thread(post_news, b, token, "before")]
    stopping = asyncio.create_task(asyncio.to_thread(a.stop))  # SIGTERM
    while not stopping.done():
        posted.append(await asyncio.to_thread(post_news, b, token, "during"))
        await asyncio.sleep(0.1)
    posted.append(await asyncio.to_thread(post_news, b, token, "after"))
    await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*followers)
    nginx.stop()

    assert closes, "no client was on the stopping process"
    assert set(closes) == {1001}, closes  # never accepted by it and then dropped
    expected = [p["url"] for p in posted]
    for seen in clients:
        ids = [n["id"] for n in seen]
        assert ids == sorted(set(ids)), "a note came twice or out of order"
        assert [n["url"] for n in seen] == expected
