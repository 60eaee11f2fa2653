"""Redis trouble never loses a committed note and never makes a request wait.

The unreachable-Redis tests point a server at a port that refuses connections
and at one that accepts them but never answers (the nastier case: every
Redis call would hang until its timeout). The stop/start tests run their own
``redis-server`` so the shared one is never touched.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

import pytest
import websockets

from note.models import Note
from tests.support import ws
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, call, post_news
from tests.support.services import RedisServer, free_port

pytestmark = pytest.mark.asyncio

# Larger than any wait in this module: a note that arrives in time came through
# the channel layer or a gap-triggered catch-up, not the periodic safety net.
LAYER_ONLY = {"NOTES_CATCH_UP_SECONDS": "60"}
titles = (f"outage {i}" for i in itertools.count())


@pytest.fixture(params=["refused", "silent"])
def dead_redis_url(request):
    """A Redis URL nobody answers: connection refused, or accepted and then silence."""
    if request.param == "refused":
        yield f"redis://127.0.0.1:{free_port()}/0"
        return
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)  # the kernel completes handshakes; nobody ever reads
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


async def test_publishing_with_redis_unreachable_answers_at_once_and_keeps_the_note(
    start_server, dead_redis_url
):
    server = start_server(redis_url=dead_redis_url)
    _, token = await adb(make_user_with_token, "dead")
    sock = await ws.connect(server.ws_url, token=token)
    await ws.handshake(sock)

    posted = []
    for _ in range(3):
        started = time.monotonic()
        news = await asyncio.to_thread(post_news, server, token, next(titles))
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"POST /api/news/ waited {elapsed:.2f}s on a dead Redis"
        posted.append(news)

    stored = await adb(lambda: list(Note.objects.filter(url__in=[n["url"] for n in posted])))
    assert len(stored) == 3
    # The connected client still gets them: the hub reads what the layer did not bring.
    got = await ws.notes_until(sock, lambda notes: len(notes) >= 3, timeout=10)
    assert [n["url"] for n in got] == [n["url"] for n in posted]
    await sock.close()

    status, health = await asyncio.to_thread(call, f"{server.http_url}/healthz")
    assert status == 503
    assert health["database"] == "ok"
    assert health["channel_layer"].startswith("error")
    server.stop()


@pytest.fixture(scope="module")
def private_redis():
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def pair(start_server, private_redis):
    """Two processes on the private Redis, with the periodic catch-up out of the way."""
    return (
        start_server(redis_url=private_redis.url, **LAYER_ONLY),
        start_server(redis_url=private_redis.url, **LAYER_ONLY),
    )


async def wait_healthy(server, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await asyncio.to_thread(call, f"{server.http_url}/healthz")
        if status == 200:
            return
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


async def test_outage_keeps_pages_and_api_working_and_resume_gets_the_gap(pair, private_redis):
    a, b = pair
    _, token = await adb(make_user_with_token, "outage")
    live = await ws.connect(a.ws_url, token=token)
    _, _, synced = await ws.handshake(live)
    before = await asyncio.to_thread(post_news, b, token, next(titles))
    [first] = await ws.notes_until(live, lambda notes: len(notes) >= 1, timeout=5)
    assert first["url"] == before["url"]
    away = first["id"]  # a client that goes away here resumes from this id

    private_redis.stop()
    try:
        status, page = await asyncio.to_thread(call, f"{a.http_url}/")
        assert status == 200 and "<html" in page.lower()
        gap = [await asyncio.to_thread(post_news, s, token, next(titles)) for s in (a, b, a, b)]
        status, health = await asyncio.to_thread(call, f"{b.http_url}/healthz")
        assert status == 503 and health["channel_layer"].startswith("error")
        resumed = await ws.connect(b.ws_url, token=token, after=away)
        _, replayed, _ = await ws.handshake(resumed)
        assert [n["url"] for n in replayed] == [n["url"] for n in gap]
        await resumed.close()
    finally:
        private_redis.start()

    # Both servers reconnect by themselves: a note posted through B then reaches
    # A's client through the layer, with the gap closed in front of it, each once.
    await wait_healthy(a)
    await wait_healthy(b)
    received: list[dict] = []
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, "the layer never came back"
        after = await asyncio.to_thread(post_news, b, token, next(titles))
        received += [f["note"] for f in await ws.quiet(live, 1.0) if f["type"] == "note"]
        if any(n["url"] == after["url"] for n in received):
            break
    ids = [n["id"] for n in received]
    assert ids == sorted(set(ids)) and ids[0] == away + 1
    assert [n["url"] for n in received[: len(gap)]] == [n["url"] for n in gap]
    assert synced["last_id"] < away
    await live.close()


class Collector:
    """A client that stays connected as long as it can and resumes after any close."""

    def __init__(self, url: str, *, token: str | None = None, origin: str | None = None):
        self.url, self.token, self.origin = url, token, origin
        self.notes: list[dict] = []
        self.closes: list[int | None] = []
        self.synced = asyncio.Event()

    @property
    def last_id(self) -> int | None:
        return self.notes[-1]["id"] if self.notes else None

    async def run(self, until_id: asyncio.Future) -> None:
        while True:
            sock = await ws.connect(
                self.url, token=self.token, origin=self.origin, after=self.last_id
            )
            try:
                _, replayed, _ = await ws.handshake(sock)
                self.notes += replayed
                self.synced.set()
                while not (until_id.done() and (self.last_id or 0) >= until_id.result()):
                    try:
                        frame = await ws.recv(sock, timeout=0.5)
                    except TimeoutError:
                        continue
                    if frame["type"] == "note":
                        self.notes.append(frame["note"])
                return
            except websockets.ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd else None)
            finally:
                await sock.close()


async def test_redis_restart_while_publishing_loses_nothing_for_connected_clients(
    pair, private_redis
):
    a, b = pair
    await wait_healthy(a)
    await wait_healthy(b)
    users = [await adb(make_user_with_token, f"restart{i}") for i in range(3)]
    start_id = (await asyncio.to_thread(post_news, a, users[0][1], next(titles)))["id"]
    collectors = [Collector(s.ws_url, token=token) for s in (a, b) for _, token in users]
    collectors.append(Collector(a.ws_url, origin=a.http_url))  # anonymous
    for c in collectors:
        c.notes.append({"id": start_id, "url": None})  # resume from here
    last_id: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    tasks = [asyncio.create_task(c.run(last_id)) for c in collectors]
    await asyncio.wait_for(asyncio.gather(*(c.synced.wait() for c in collectors)), 15)

    posted = []
    for i in range(30):
        server, (_, token) = (a, b)[i % 2], users[i % 3]
        posted.append(await asyncio.to_thread(post_news, server, token, next(titles)))
        if i == 10:
            private_redis.stop()
        if i == 20:
            private_redis.start()
        await asyncio.sleep(0.1)
    await wait_healthy(a)
    await wait_healthy(b)
    # Notes after Redis is back: whoever stayed connected gets the gap closed in
    # front of them, even with the periodic catch-up at 60 s.
    for _ in range(3):
        posted.append(await asyncio.to_thread(post_news, b, users[0][1], next(titles)))
        await asyncio.sleep(1.0)
    last_id.set_result(posted[-1]["id"])
    await asyncio.wait_for(asyncio.gather(*tasks), 30)

    expected = [n["url"] for n in posted]
    for c in collectors:
        got = [n["url"] for n in c.notes[1:]]
        assert got == expected, (c.url, c.token is None, c.closes)
        assert all(code == 1012 for code in c.closes), c.closes


async def test_a_logout_during_a_redis_blip_still_closes_the_sessions_socket(start_server):
    redis = RedisServer()
    redis.start()
    try:
        server = start_server(redis_url=redis.url)
        user = await adb(make_user, "blip", password="pw-blip-12345")
        session = BrowserSession(server)
        await asyncio.to_thread(session.login, user.username, "pw-blip-12345")
        sock = await ws.connect(
            server.ws_url, origin=server.http_url, headers={"Cookie": session.cookie_header()}
        )
        await ws.handshake(sock)

        redis.stop()
        # The logout's layer event fails to send; it used to be dropped with
        # whatever else was queued, and the socket stayed open.
        assert await asyncio.to_thread(session.logout) in (200, 302)
        await asyncio.sleep(1.5)
        redis.start()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv(sock, timeout=30)
        # 1000 when the retried logout event arrives first; 4401 when the process
        # found the session ended in the database first (docs/protocol.md, "When
        # access ends"). Either way the session's socket is closed and told not to
        # come back with that session.
        assert closed.value.rcvd is not None and closed.value.rcvd.code in (1000, 4401)
        assert "layer_send_failed" in server.logs()
    finally:
        redis.stop()
