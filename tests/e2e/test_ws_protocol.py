"""Every row of the contract's WebSocket section, against a real daphne process."""

import asyncio
import json

import pytest
import websockets

from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, call, post_news

pytestmark = pytest.mark.asyncio


def origin(server):
    return server.http_url


async def closed_code(sock, timeout=5.0) -> int:
    try:
        while True:
            await asyncio.wait_for(sock.recv(), timeout)
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def test_hello_then_synced_for_a_fresh_connection(server):
    user, token = await adb(make_user_with_token, "hello")
    public = (await adb(note_create, kind="t", title="public"))[0]
    private = (await adb(note_create, kind="t", title="mine", recipients=[user]))[0]
    await adb(note_create, kind="t", title="not mine", recipients=[await adb(make_user)])

    async with await ws.connect(server.ws_url, token=token) as sock:
        hello, replayed, synced = await ws.handshake(sock)
    assert hello == {
        "type": "hello",
        "protocol": 1,
        "user": user.username,
        "unread": 2,
        "last_id": private.id,
    }
    assert replayed == []
    assert synced == {"type": "synced", "last_id": private.id}
    assert public.id < private.id


async def test_resume_replays_every_visible_note_after_the_id_oldest_first(server):
    user, token = await adb(make_user_with_token, "resume")
    other = await adb(make_user)
    notes = []
    for i in range(5):
        notes += await adb(note_create, kind="t", title=f"p{i}")
        notes += await adb(note_create, kind="t", title=f"mine{i}", recipients=[user])
        await adb(note_create, kind="t", title=f"theirs{i}", recipients=[other])
    after = notes[3].id
    async with await ws.connect(server.ws_url, token=token, after=after) as sock:
        hello, replayed, synced = await ws.handshake(sock)
    expected = [n.id for n in notes if n.id > after]
    assert [n["id"] for n in replayed] == expected
    assert synced["last_id"] == expected[-1] == hello["last_id"]
    assert {n["title"] for n in replayed}.isdisjoint({f"theirs{i}" for i in range(5)})
    first = replayed[0]
    assert set(first) == {
        "id",
        "kind",
        "title",
        "content",
        "url",
        "actor",
        "public",
        "created",
        "read",
    }


async def test_resume_marks_read_notes_as_read(server):
    user, token = await adb(make_user_with_token, "readflag")
    start = (await adb(note_create, kind="t", title="start"))[0].id
    a = (await adb(note_create, kind="t", title="a"))[0]
    b = (await adb(note_create, kind="t", title="b"))[0]
    status, _ = await asyncio.to_thread(
        call, f"{server.http_url}/api/notes/read/", method="POST", body={"ids": [a.id]}, token=token
    )
    assert status == 200
    async with await ws.connect(server.ws_url, token=token, after=start) as sock:
        _, replayed, _ = await ws.handshake(sock)
    assert [(n["id"], n["read"]) for n in replayed] == [(a.id, True), (b.id, False)]


async def test_live_notes_follow_the_replay_in_order(server):
    user, token = await adb(make_user_with_token, "live")
    async with await ws.connect(server.ws_url, token=token) as sock:
        hello, _, _ = await ws.handshake(sock)
        news = await asyncio.to_thread(post_news, server, token, "Live one")
        [note] = await ws.notes_until(sock, lambda got: len(got) >= 1)
        assert note["id"] > hello["last_id"]
        assert note["title"] == f"{user.username} posted news: Live one"
        assert (note["kind"], note["actor"], note["public"], note["read"]) == (
            "news.published",
            user.username,
            True,
            False,
        )
        assert note["url"] == news["url"]
        assert note["created"].endswith("Z")


async def test_ping_pong_and_error_frames_keep_the_connection_open(server):
    _, token = await adb(make_user_with_token, "errors")
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        cases = [
            ("{oops", "bad_json"),
            ("[1,2]", "bad_request"),
            ('{"type": 5}', "bad_request"),
            ('{"type": "mark_read", "ids": "all"}', "bad_request"),
            ('{"type": "mark_read", "ids": [1, true]}', "bad_request"),
            ('{"type": "subscribe"}', "unknown_type"),
            ("[" * 5000 + "]" * 5000, "bad_json"),
            ('{"type": "mark_read", "ids": [' + "9" * 5000 + "]}", "bad_json"),
        ]
        for text, code in cases:
            await sock.send(text)
            frame = await ws.recv(sock)
            assert frame["type"] == "error" and frame["code"] == code, (text[:30], frame)
            assert frame["message"]
        await sock.send(b"\x00\x01binary")
        assert (await ws.recv(sock))["code"] == "bad_request"
        await sock.send('{"type": "ping"}')
        assert await ws.recv(sock) == {"type": "pong"}


async def test_anonymous_cannot_mark_read_but_stays_connected(server):
    async with await ws.connect(server.ws_url, origin=origin(server)) as sock:
        hello, _, _ = await ws.handshake(sock)
        assert hello["user"] is None and hello["unread"] == 0
        await sock.send('{"type": "mark_read", "all": true}')
        assert (await ws.recv(sock))["code"] == "bad_request"
        await sock.send('{"type": "ping"}')
        assert await ws.recv(sock) == {"type": "pong"}


async def test_unread_reaches_every_open_connection_of_the_user(server):
    user, token = await adb(make_user_with_token, "unread")
    _, other_token = await adb(make_user_with_token, "bystander")
    mine = await adb(note_create, kind="t", title="x", recipients=[user])
    mine += await adb(note_create, kind="t", title="y", recipients=[user])
    first = await ws.connect(server.ws_url, token=token)
    second = await ws.connect(server.ws_url, token=token)
    bystander = await ws.connect(server.ws_url, token=other_token)
    for sock in (first, second, bystander):
        await ws.handshake(sock)

    # ``changed`` frames (which notes) come too: a v1 client skips frame types it does not know.
    await first.send(json.dumps({"type": "mark_read", "ids": [mine[0].id]}))
    assert await ws.recv_skipping(first, "changed") == {"type": "unread", "count": 1}
    assert await ws.recv_skipping(second, "changed") == {"type": "unread", "count": 1}

    status, body = await asyncio.to_thread(
        call, f"{server.http_url}/api/notes/read/", method="POST", body={"all": True}, token=token
    )
    assert (status, body) == (200, {"unread": 0})
    assert await ws.recv_skipping(first, "changed") == {"type": "unread", "count": 0}
    assert await ws.recv_skipping(second, "changed") == {"type": "unread", "count": 0}
    await ws.quiet(first, 0.3)  # the last ``changed``

    await first.send(json.dumps({"type": "mark_read", "all": True}))  # nothing changes
    assert await ws.quiet(first, 0.5) == []
    assert await ws.quiet(bystander, 0.2) == []
    for sock in (first, second, bystander):
        await sock.close()


async def test_a_frame_over_64_kib_closes_with_1009_and_64_kib_is_fine(server):
    _, token = await adb(make_user_with_token, "big")
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        base = '{"type":"ping","pad":""}'
        exact = base.replace('""', '"' + "x" * (65536 - len(base)) + '"')
        assert len(exact.encode()) == 65536
        await sock.send(exact)
        assert await ws.recv(sock) == {"type": "pong"}
        await sock.send(exact[:-2] + 'xx"}')
        assert await closed_code(sock) == 1009


async def test_flooding_gets_rate_limited_then_closed_with_1008_while_others_are_served(server):
    _, token = await adb(make_user_with_token, "flood")
    _, calm_token = await adb(make_user_with_token, "calm")
    calm = await ws.connect(server.ws_url, token=calm_token)
    await ws.handshake(calm)
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        for _ in range(300):
            await sock.send('{"type":"ping"}')
        codes = set()
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(sock.recv(), 5))
                codes.add(frame.get("code") or frame["type"])
        except websockets.ConnectionClosed as exc:
            assert exc.rcvd.code == 1008
        assert codes == {"pong", "rate_limited"}
    await calm.send('{"type":"ping"}')
    assert await ws.recv(calm, 2) == {"type": "pong"}
    await calm.close()


async def test_bad_after_is_an_error_frame_and_a_close(server):
    _, token = await adb(make_user_with_token, "badafter")
    async with await ws.connect(f"{server.ws_url}?after=-1", token=token) as sock:
        frame = await ws.recv(sock)
        assert frame["type"] == "error" and frame["code"] == "bad_request"
        assert await closed_code(sock) == 4400


# Authentication and origin.


async def handshake_status(url, **kwargs) -> int | None:
    try:
        sock = await ws.connect(url, **kwargs)
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await sock.close()
    return None


async def test_a_bad_token_is_refused(server):
    assert await handshake_status(server.ws_url, token="rtn_nope") == 403
    assert await handshake_status(server.ws_url, headers={"Authorization": "Basic x"}) == 403


async def test_no_origin_is_accepted_only_with_a_valid_token(server):
    _, token = await adb(make_user_with_token, "noorigin")
    assert await handshake_status(server.ws_url) == 403
    assert await handshake_status(server.ws_url, token=token) is None


async def test_a_foreign_origin_is_refused_even_with_a_session_or_token(server):
    user = await adb(make_user, "origin", password="pw-origin-123")
    session = BrowserSession(server)
    await asyncio.to_thread(session.login, user.username, "pw-origin-123")
    cookie = {"Cookie": session.cookie_header()}
    _, token = await adb(make_user_with_token, "origintok")
    evil = "http://evil.example"
    assert await handshake_status(server.ws_url, origin=evil, headers=cookie) == 403
    assert await handshake_status(server.ws_url, origin=evil, token=token) == 403
    assert await handshake_status(server.ws_url, origin=origin(server), headers=cookie) is None


async def test_session_cookie_identifies_the_browser_user(server):
    user = await adb(make_user, "cookie", password="pw-cookie-123")
    session = BrowserSession(server)
    await asyncio.to_thread(session.login, user.username, "pw-cookie-123")
    async with await ws.connect(
        server.ws_url, origin=origin(server), headers={"Cookie": session.cookie_header()}
    ) as sock:
        hello, _, _ = await ws.handshake(sock)
    assert hello["user"] == user.username


async def test_anonymous_connections_see_public_notes_only(server):
    user = await adb(make_user)
    start = (await adb(note_create, kind="t", title="start"))[0].id
    await adb(note_create, kind="t", title="private", recipients=[user])
    public = (await adb(note_create, kind="t", title="public"))[0]
    async with await ws.connect(server.ws_url, origin=origin(server), after=start) as sock:
        hello, replayed, _ = await ws.handshake(sock)
        assert [n["id"] for n in replayed] == [public.id]
        assert hello["last_id"] == public.id
        await adb(note_create, kind="t", title="private live", recipients=[user])
        live = (await adb(note_create, kind="t", title="public live"))[0]
        [note] = await ws.notes_until(sock, lambda got: len(got) >= 1)
        assert note["id"] == live.id
        assert await ws.quiet(sock, 1.5) == []


async def test_logging_out_closes_that_sessions_sockets_only(server):
    user = await adb(make_user, "logout", password="pw-logout-123")
    leaving, staying = BrowserSession(server), BrowserSession(server)
    for session in (leaving, staying):
        await asyncio.to_thread(session.login, user.username, "pw-logout-123")

    def connect(session):
        return ws.connect(
            server.ws_url, origin=origin(server), headers={"Cookie": session.cookie_header()}
        )

    doomed, kept = await connect(leaving), await connect(staying)
    await ws.handshake(doomed)
    await ws.handshake(kept)
    assert await asyncio.to_thread(leaving.logout) in (200, 302)
    assert await closed_code(doomed) == 1000
    await kept.send('{"type":"ping"}')
    assert await ws.recv(kept) == {"type": "pong"}
    await kept.close()
