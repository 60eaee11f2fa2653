"""What operators see: /metrics (not public), and logs with one event per line, no secrets."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import websockets

from tests.support import ws
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, call, post_news
from tests.support.metrics import scrape, value

pytestmark = pytest.mark.asyncio


async def flood_until_closed(sock) -> int:
    try:
        for _ in range(500):
            await sock.send('{"type":"ping"}')
        while True:
            await ws.recv(sock, timeout=5)
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def test_metrics_count_connections_notes_frames_replays_latency_and_cut_offs(start_server):
    server = start_server()
    _, token = await adb(make_user_with_token, "metrics")
    socks = [await ws.connect(server.ws_url, token=token) for _ in range(3)]
    for sock in socks:
        await ws.handshake(sock)
    news = await asyncio.to_thread(post_news, server, token, "counted")
    for sock in socks:
        await ws.notes_until(sock, lambda notes: len(notes) >= 1)
    resumed = await ws.connect(server.ws_url, token=token, after=news["id"] - 1)
    _, replayed, _ = await ws.handshake(resumed)
    assert len(replayed) == 1
    with pytest.raises(websockets.InvalidStatus):
        await ws.connect(server.ws_url, token="rtn_not-a-token")
    flooder = await ws.connect(server.ws_url, token=token)
    await ws.handshake(flooder)
    assert await flood_until_closed(flooder) == 1008
    await asyncio.sleep(0.2)

    samples = await asyncio.to_thread(scrape, server)
    assert value(samples, "realtime_connections_open") == 4  # 3 live + the resumed one
    assert value(samples, "realtime_notes_created_total") == 1
    assert value(samples, "realtime_frames_delivered_total", path="live") == 3
    assert value(samples, "realtime_frames_delivered_total", path="replay") == 1
    assert value(samples, "realtime_notes_replayed_total") == 1
    assert value(samples, "realtime_delivery_latency_seconds_count") == 1
    assert value(samples, "realtime_clients_cut_off_total", reason="flood") == 1
    assert value(samples, "realtime_clients_cut_off_total", reason="bad_token") == 1
    assert value(samples, "realtime_layer_errors_total", direction="send") == 0
    assert value(samples, "process_open_fds") > 0  # the process collector, for soak runs
    for sock in [*socks, resumed]:
        await sock.close()


async def test_metrics_are_not_public_in_production(start_server):
    server = start_server(
        DJANGO_DEBUG="0", DJANGO_SECRET_KEY="s" * 50, METRICS_TOKEN="scrape-me-please"
    )
    status, body = await asyncio.to_thread(call, f"{server.http_url}/metrics")
    assert status == 403 and "error" in body
    status, _ = await asyncio.to_thread(
        call, f"{server.http_url}/metrics", headers={"Authorization": "Bearer wrong"}
    )
    assert status == 403
    samples = await asyncio.to_thread(
        scrape, server, headers={"Authorization": "Bearer scrape-me-please"}
    )
    assert ("realtime_connections_open", ()) in samples


async def test_json_logs_name_each_event_and_never_carry_secrets(start_server):
    server = start_server(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    password = "pw-Sup3r-secret-9"
    user = await adb(make_user, "logged", password=password)
    _, token = await adb(make_user_with_token, "logger")
    browser = BrowserSession(server)
    await asyncio.to_thread(browser.login, user.username, password)
    cookie_sock = await ws.connect(
        server.ws_url, origin=server.http_url, headers={"Cookie": browser.cookie_header()}
    )
    token_sock = await ws.connect(server.ws_url, token=token)
    for sock in (cookie_sock, token_sock):
        await ws.handshake(sock)
    secret_title, secret_body = "Title-7f3a9c-private", "Body-b81e44-private"
    await asyncio.to_thread(post_news, server, token, secret_title, secret_body)
    await ws.notes_until(token_sock, lambda notes: len(notes) >= 1)
    await token_sock.send(json.dumps({"type": "mark_read", "all": True}))
    await ws.recv(token_sock)
    with pytest.raises(websockets.InvalidStatus):
        await ws.connect(server.ws_url, token=token + "x")
    assert await flood_until_closed(token_sock) == 1008
    session_key, csrf = browser.cookie("sessionid"), browser.cookie("csrftoken")
    await asyncio.to_thread(browser.logout)
    with pytest.raises(websockets.ConnectionClosed):
        while True:  # the note frame first, then the close
            await ws.recv(cookie_sock, timeout=5)
    await asyncio.sleep(0.3)

    logs = server.logs()
    for secret in (token, session_key, csrf, password, secret_title, secret_body):
        assert secret not in logs
    events = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    by_name: dict[str, list[dict]] = {}
    for event in events:
        assert {"time", "level", "logger", "message"} <= event.keys()
        if "event" in event:
            by_name.setdefault(event["event"], []).append(event)
    assert {"ws_connect", "ws_close", "ws_auth_failed", "ws_limit", "ws_server_close"} <= set(
        by_name
    )
    connect = by_name["ws_connect"][0]
    assert re.fullmatch(r"[0-9a-f]{12}", connect["conn"]) and connect["user"] == str(user.pk)
    assert {e["code"] for e in by_name["ws_close"]} >= {1008}
    assert by_name["ws_auth_failed"][0]["reason"] == "bad_token"
    assert by_name["ws_limit"][0]["limit"] == "flood"
    assert by_name["ws_server_close"][0]["code"] == 1000  # the logout
