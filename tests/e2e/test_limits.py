"""Limits counted across two daphne processes sharing Redis, as a client sees them.

A refused handshake is closed with 4429 (``RATE_LIMITED``) and says how long
to wait; a refused HTTP call is a 429 JSON answer with ``Retry-After``; both
are counted in ``/metrics``. With Redis down the limits let clients through.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from notes_client.protocol import CloseCode, retry_after
from tests.support.data import adb, make_user_with_token
from tests.support.http import call
from tests.support.metrics import scrape, value
from tests.support.services import RedisServer
from tests.support.ws import connect, handshake


async def refusal(url: str, **kwargs) -> tuple[int, str]:
    """The close code and reason of a handshake that a limit refuses."""
    ws = await connect(url, **kwargs)
    try:
        frame = await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as exc:
        return exc.rcvd.code, exc.rcvd.reason
    finally:
        await ws.close()
    raise AssertionError(f"not refused: got {frame}")


@pytest.fixture(scope="module")
def pair(start_server, redis_url):
    """Two processes on one Redis: at most 2 sockets a user, 2 posts a minute a user."""
    prefix = f"rt-e2e-limits-{uuid.uuid4().hex[:8]}"
    env = {"LIMIT_SOCKETS_PER_USER": "2", "LIMIT_PUBLISH_PER_USER": "2/1m"}
    return [start_server(redis_url=redis_url, layer_prefix=prefix, **env) for _ in range(2)]


async def test_open_sockets_per_user_are_counted_across_processes(pair):
    first, second = pair
    _, token = await adb(make_user_with_token, "sockets")
    one = await connect(first.ws_url, token=token)
    two = await connect(second.ws_url, token=token)
    await handshake(one)
    await handshake(two)

    code, reason = await refusal(first.ws_url, token=token)
    assert code == CloseCode.RATE_LIMITED
    assert "sockets_per_user" in reason and retry_after(reason) >= 1

    # Another user is not held back; and a socket closed gives its slot back.
    _, other = await adb(make_user_with_token, "other")
    three = await connect(second.ws_url, token=other)
    await handshake(three)
    await one.close()
    for _ in range(50):
        again = await connect(first.ws_url, token=token)
        try:
            await handshake(again)
            break
        except ConnectionClosed:
            await asyncio.sleep(0.1)  # the slot is given back just after the close
    else:
        raise AssertionError("the closed socket's slot never came back")
    for ws in (two, three, again):
        await ws.close()

    samples = scrape(first)
    assert value(samples, "notes_limit_refused_total", limit="sockets_per_user") >= 1
    assert value(samples, "realtime_clients_cut_off_total", reason="sockets_per_user") >= 1


async def test_publishing_is_counted_across_processes(pair):
    first, second = pair
    _, token = await adb(make_user_with_token, "publisher")
    url = "/api/news/"
    statuses = []
    for server in (first, second, first):
        status, body = call(
            f"{server.http_url}{url}", method="POST", body={"title": "t"}, token=token
        )
        statuses.append(status)
    assert statuses == [201, 201, 429]
    assert body["limit"] == "publish_per_user" and body["retry_after"] >= 1
    request = urllib.request.Request(
        f"{second.http_url}{url}",
        data=b'{"title": "t"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=10)
    assert refused.value.code == 429
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert value(scrape(second), "notes_limit_refused_total", limit="publish_per_user") >= 1


async def test_handshakes_per_address_are_counted_across_processes(start_server, redis_url):
    prefix = f"rt-e2e-limits-{uuid.uuid4().hex[:8]}"
    env = {"LIMIT_HANDSHAKES_PER_ADDRESS": "3/1m"}
    first, second = (start_server(redis_url=redis_url, layer_prefix=prefix, **env) for _ in "ab")
    _, token = await adb(make_user_with_token, "storm")
    opened = []
    for server in (first, second, first):
        ws = await connect(server.ws_url, token=token)
        await handshake(ws)
        opened.append(ws)
    code, reason = await refusal(second.ws_url, token=token)
    assert code == CloseCode.RATE_LIMITED and "handshakes_per_address" in reason
    for ws in opened:
        await ws.close()


async def test_with_redis_down_the_limits_let_clients_in(start_server):
    redis = RedisServer()
    redis.start()
    try:
        server = start_server(
            redis_url=redis.url,
            layer_prefix=f"rt-e2e-limits-{uuid.uuid4().hex[:8]}",
            LIMIT_SOCKETS_PER_USER="1",
            LIMIT_HANDSHAKES_PER_USER="100/1m",
        )
        _, token = await adb(make_user_with_token, "nored")
        redis.stop()
        sockets = []
        for _ in range(2):  # two sockets where the limit is one: not counted, let in
            ws = await connect(server.ws_url, token=token)
            hello, _, _ = await handshake(ws)
            assert hello["user"].startswith("nored")
            sockets.append(ws)
        for ws in sockets:
            await ws.close()
        assert value(scrape(server), "notes_limit_store_errors_total") >= 1
    finally:
        redis.stop()


async def test_metrics_ignores_a_forwarded_address_from_a_client_that_is_not_a_proxy(
    start_server,
):
    allowed = {"METRICS_ALLOWED_IPS": "203.0.113.9"}
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    direct = start_server(**allowed)
    status, _ = call(f"{direct.http_url}/metrics", headers=spoofed)
    assert status == 403
    behind_proxy = start_server(TRUSTED_PROXIES="127.0.0.1", **allowed)
    status, _ = call(f"{behind_proxy.http_url}/metrics", headers=spoofed)
    assert status == 200
    status, _ = call(f"{behind_proxy.http_url}/metrics")
    assert status == 403


async def test_bad_tokens_count_against_the_address_too(start_server):
    """A storm of made-up tokens is held back before each costs a token query."""
    server = start_server(LIMIT_HANDSHAKES_PER_ADDRESS="2/1m")
    for _ in range(2):
        with pytest.raises(websockets.InvalidStatus):
            await connect(server.ws_url, token="rtn_made-up")
    _, token = await adb(make_user_with_token, "afterstorm")
    code, reason = await refusal(server.ws_url, token=token)
    assert code == CloseCode.RATE_LIMITED and "handshakes_per_address" in reason
