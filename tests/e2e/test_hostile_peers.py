"""Peers that misbehave on purpose, against a real daphne: each is held by a limit.

Every test here failed before the limit it names existed (issue "Hostile and
broken peers").
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import websockets
from django.test import override_settings
from websockets.protocol import State

from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call
from tests.support.metrics import scrape, value
from tests.support.raw_ws import PING, TEXT, RawWebSocket

pytestmark = pytest.mark.asyncio

STRICT_FRAME_LIMIT = 64 * 1024  # the contract's limit, held by the client too


def _store_oversized_note(title: str):
    """A note stored as a release before the size check could have stored it."""
    with override_settings(NOTES_MAX_NOTE_BYTES=10**6):
        return note_create(kind="t", title=title, content="😀" * 20_000)[0]


async def test_an_oversized_stored_note_reaches_live_and_resuming_clients_clipped(server):
    _, token = await adb(make_user_with_token, "big")
    before = (await adb(note_create, kind="t", title="before"))[0]
    async with await ws.connect(server.ws_url, token=token, max_size=STRICT_FRAME_LIMIT) as live:
        await ws.handshake(live)
        big = await adb(_store_oversized_note, "big one")
        after = (await adb(note_create, kind="t", title="after"))[0]
        got = await ws.notes_until(live, lambda ns: len(ns) >= 2)
    assert [n["id"] for n in got] == [big.id, after.id]
    assert got[0]["truncated"] is True and got[0]["content"].endswith("…")
    assert "truncated" not in got[1]

    # A client resuming from before it is not stuck behind it (it used to get 1011 forever).
    async with await ws.connect(
        server.ws_url, token=token, after=before.id, max_size=STRICT_FRAME_LIMIT
    ) as resumed:
        _, replayed, synced = await ws.handshake(resumed)
    assert [n["id"] for n in replayed] == [big.id, after.id]
    assert synced["last_id"] == after.id


async def test_a_client_flooding_pings_without_reading_is_cut_off_with_bounded_memory(
    start_server,
):
    server = start_server(WS_MAX_BUFFER_BYTES=str(256 * 1024))
    _, token = await adb(make_user_with_token, "pinger")
    baseline = server.rss_mib()
    peer = RawWebSocket(server.port, token=token)
    peak = baseline
    cut_off = threading.Event()

    def flood() -> None:
        payload = b"p" * 125
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                for _ in range(200):
                    peer.send_frame(PING, payload)
        except OSError:
            cut_off.set()

    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    while sender.is_alive():
        peak = max(peak, server.rss_mib())
        await asyncio.sleep(0.1)
    peer.close()
    assert cut_off.is_set(), "the server kept answering pings to a client that never reads"
    # Before the cap the same flood grew the server by about 10 MiB a second.
    assert peak - baseline < 48, (baseline, peak)


async def test_a_client_that_sends_but_never_reads_is_closed_by_the_keepalive(start_server):
    server = start_server(daphne_args=("--ping-interval", "1", "--ping-timeout", "2"))
    _, token = await adb(make_user_with_token, "deaf")
    peer = RawWebSocket(server.port, token=token)
    began = time.monotonic()
    try:
        # Frames daphne used to count as signs of life; we never read or answer its pings.
        while time.monotonic() - began < 12:
            peer.send_frame(TEXT, b'{"type":"ping"}')
            await asyncio.sleep(0.5)
        closed = False
    except OSError:
        closed = True
    finally:
        peer.close()
    assert closed, "a client that never answers pings stayed connected"


async def test_replays_to_clients_that_never_read_are_paced_and_end(start_server):
    server = start_server(WS_DRAIN_TIMEOUT_SECONDS="2")
    _, token = await adb(make_user_with_token, "sleeper")
    for start in range(0, 1500, 500):
        await adb(
            lambda s: [
                note_create(kind="t", title=f"history {i}", content="x" * 8000)
                for i in range(s, s + 500)
            ],
            start,
        )
    baseline = server.rss_mib()
    peers = [RawWebSocket(server.port, path="/ws/notes/?after=0", token=token) for _ in range(20)]
    peak = baseline
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        peak = max(peak, server.rss_mib())
        samples = scrape(server)
        if value(samples, "realtime_connections_open") == 0:
            break
        await asyncio.sleep(0.2)
    for p in peers:
        p.close()
    # 12 MB of history each, 240 MB for the 20 if it were not paced; 20 clients
    # that read it all at once take about 35 MiB.
    assert peak - baseline < 80, (baseline, peak)
    assert value(samples, "realtime_connections_open") == 0
    assert value(samples, "realtime_clients_cut_off_total", reason="slow_reader") == 20


async def test_a_slow_reader_gets_the_whole_replay_once_in_order(start_server):
    server = start_server(WS_DRAIN_TIMEOUT_SECONDS="10")
    _, token = await adb(make_user_with_token, "slow")
    first = (await adb(note_create, kind="t", title="mark"))[0].id
    await adb(
        lambda: [note_create(kind="t", title=f"slow {i}", content="y" * 8000) for i in range(400)]
    )
    async with await ws.connect(server.ws_url, token=token, after=first, max_queue=1) as sock:
        hello = await ws.recv(sock)
        seen = []
        while True:
            frame = await ws.recv(sock, timeout=15)
            if frame["type"] == "synced":
                break
            seen.append(frame["note"]["id"])
            if len(seen) % 50 == 0:
                await asyncio.sleep(0.2)  # a reader slower than the server
    assert seen == list(range(first + 1, hello["last_id"] + 1))


async def test_a_socket_whose_sends_fail_is_dropped_and_the_others_get_every_note(start_server):
    server = start_server(app="tests.support.failing_send_asgi:application")
    _, token = await adb(make_user_with_token, "fanout")
    good = [await ws.connect(server.ws_url, token=token) for _ in range(3)]
    broken = await ws.connect(server.ws_url, token=token, headers={"X-Test-Failing-Send": "note"})
    for sock in [*good, broken]:
        await ws.handshake(sock)

    notes = [(await adb(note_create, kind="t", title=f"fan-out {i}"))[0] for i in range(3)]
    for sock in good:
        got = await ws.notes_until(sock, lambda ns: len(ns) >= 3)
        assert [n["id"] for n in got] == [n.id for n in notes]
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv(broken, timeout=5)
    assert closed.value.rcvd.code == 1011  # it resumes, like after any server error

    # The hub goes on: no catch-up keeps failing on the broken socket and closes everyone.
    for sock in good:
        assert await ws.quiet(sock, 4) == []
        assert sock.state is State.OPEN
    samples = scrape(server)
    assert value(samples, "realtime_connections_open") == 3
    assert value(samples, "realtime_frames_delivered_total", path="live") == 9
    assert value(samples, "realtime_clients_cut_off_total", reason="send_failed") == 1
    for sock in good:
        await sock.close()


async def test_a_lone_surrogate_is_a_400_field_error_on_the_api_and_an_error_frame_on_a_socket(
    server,
):
    _, token = await adb(make_user_with_token, "surrogate")
    for field in ("title", "content"):
        # Valid JSON whose string decodes to a lone surrogate, which UTF-8 cannot encode.
        body = b'{"title": "ok", "content": "ok", "' + field.encode() + b'": "a\\ud800b"}'
        status, answer = call(f"{server.http_url}/api/news/", method="POST", body=body, token=token)
        assert status == 400, (status, answer)
        assert list(answer["errors"]) == [field]
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        await sock.send('{"type": "\\ud800"}')
        assert (await ws.recv(sock))["code"] == "unknown_type"
        await sock.send('{"type": "ping"}')
        assert await ws.recv(sock) == {"type": "pong"}
    assert "Traceback" not in server.logs()


async def test_paths_out_of_the_static_folder_are_404_not_500(server):
    paths = ("/static/../", "/static/../asgi.py", "/static/..%2f..%2fetc/passwd", "/static/a%00b")
    for path in paths:
        status, _ = await asyncio.to_thread(
            call, f"{server.http_url}{path}", headers={"Accept": "text/html"}
        )
        assert status == 404, (path, status)
    assert "Traceback" not in server.logs()


async def test_an_anonymous_replay_sends_only_the_newest_notes_and_says_so(start_server):
    server = start_server(WS_ANONYMOUS_REPLAY_NOTES="5")
    user, token = await adb(make_user_with_token, "deep")
    public = [(await adb(note_create, kind="t", title=f"history {i}"))[0].id for i in range(12)]
    await adb(note_create, kind="t", title="private", recipients=user)
    start = public[0] - 1

    async with await ws.connect(server.ws_url, origin=server.http_url, after=start) as sock:
        _, replayed, synced = await ws.handshake(sock)
    assert [n["id"] for n in replayed] == public[-5:]
    assert synced == {"type": "synced", "last_id": public[-1], "capped": True}

    # A short gap is replayed whole, and the frame keeps its old shape.
    async with await ws.connect(server.ws_url, origin=server.http_url, after=public[-4]) as sock:
        _, replayed, synced = await ws.handshake(sock)
    assert [n["id"] for n in replayed] == public[-3:]
    assert synced == {"type": "synced", "last_id": public[-1]}

    # Users get their whole history.
    async with await ws.connect(server.ws_url, token=token, after=start) as sock:
        _, replayed, synced = await ws.handshake(sock)
    assert [n["id"] for n in replayed][:12] == public and len(replayed) == 13
    assert "capped" not in synced


async def test_one_user_flooding_database_work_does_not_hold_up_anyone_elses_connect(
    start_server,
):
    server = start_server(WS_DB_THREADS="2")
    _, flooder_token = await adb(make_user_with_token, "flooder")
    _, token = await adb(make_user_with_token, "bystander")
    await adb(note_create, kind="t", title="something to mark read")
    flooders = [await ws.connect(server.ws_url, token=flooder_token) for _ in range(40)]
    for sock in flooders:
        await ws.handshake(sock)

    # Within the per-socket limit (a burst of 40 frames), 1,600 database writes at once.
    frame = '{"type":"mark_read","all":true}'
    await asyncio.gather(*(sock.send(frame) for sock in flooders for _ in range(40)))
    waits = []
    for _ in range(5):
        began = time.monotonic()
        async with await ws.connect(server.ws_url, token=token) as sock:
            await ws.handshake(sock)
        waits.append(time.monotonic() - began)
    # Behind the whole queue, each of these waited seconds.
    assert max(waits) < 1.5, waits

    # The flooder's own excess is refused at once instead of queueing.
    refused = 0
    for sock in flooders:
        for frame in await ws.quiet(sock, 0.2):
            refused += frame.get("code") == "rate_limited"
        await sock.close()
    assert refused > 0
