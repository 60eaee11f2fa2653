"""Issue 16's inbox against a real daphne: data on notes, mark unread, archive, filters."""

import asyncio
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from note.models import Note
from note.services import note_create
from note.signals import notify
from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call

pytestmark = pytest.mark.asyncio


def api(server, path, token, body=None, method=None):
    return asyncio.to_thread(
        call,
        f"{server.http_url}/api/notes/{path}",
        method=method or ("POST" if body is not None else "GET"),
        body=body,
        token=token,
    )


def send_with_data(user):
    notify.send(
        sender=None,
        actor=None,
        title="Order shipped",
        kind="shop.shipped",
        recipients=[user],
        data={"order": 42, "amount": "12.50"},
    )


async def test_data_travels_in_the_live_frame_the_replay_and_the_api(server):
    user, token = await adb(make_user_with_token, "data")
    async with await ws.connect(server.ws_url, token=token) as sock:
        hello, _, _ = await ws.handshake(sock)
        await adb(send_with_data, user)
        [live] = await ws.notes_until(sock, lambda got: len(got) >= 1)
    assert live["data"] == {"order": 42, "amount": "12.50"}
    async with await ws.connect(server.ws_url, token=token, after=hello["last_id"]) as sock:
        _, [replayed], _ = await ws.handshake(sock)
    assert replayed["data"] == live["data"]
    status, body = await api(server, "", token)
    assert status == 200
    assert body["notes"][0]["data"] == live["data"]


async def test_mark_unread_and_archive_over_the_socket_reach_every_tab(server):
    user, token = await adb(make_user_with_token, "tabs")
    _, other_token = await adb(make_user_with_token, "bystander")
    [a] = await adb(note_create, kind="t", title="a", recipients=[user])
    [b] = await adb(note_create, kind="t", title="b", recipients=[user])
    status, body = await api(server, "read/", token, {"all": True})
    assert (status, body) == (200, {"unread": 0})
    first = await ws.connect(server.ws_url, token=token)
    second = await ws.connect(server.ws_url, token=token)
    bystander = await ws.connect(server.ws_url, token=other_token)
    for sock in (first, second, bystander):
        await ws.handshake(sock)

    await first.send(json.dumps({"type": "mark_unread", "ids": [a.id]}))
    for sock in (first, second):
        assert await ws.recv(sock) == {"type": "unread", "count": 1}
        assert await ws.recv(sock) == {"type": "changed", "ids": [a.id], "read": False}

    await second.send(json.dumps({"type": "archive", "ids": [a.id, b.id]}))
    for sock in (second, first):
        assert await ws.recv(sock) == {"type": "changed", "ids": [a.id, b.id], "archived": True}

    status, body = await api(server, "unarchive/", token, {"ids": [b.id]})
    assert (status, body) == (200, {"unarchived": [b.id]})
    for sock in (first, second):
        assert await ws.recv(sock) == {"type": "changed", "ids": [b.id], "archived": False}

    status, body = await api(server, "read/", token, {"ids": [a.id]})
    assert (status, body) == (200, {"unread": 0})
    for sock in (first, second):
        assert await ws.recv(sock) == {"type": "unread", "count": 0}
        assert await ws.recv(sock) == {"type": "changed", "ids": [a.id], "read": True}

    assert await ws.quiet(bystander, 0.3) == []
    for sock in (first, second, bystander):
        await sock.close()


async def test_the_inbox_api_filters_pages_by_id_and_shows_per_user_state(server):
    user, token = await adb(make_user_with_token, "inbox")
    _, other_token = await adb(make_user_with_token, "other")
    notes = []
    for kind in ("x.a", "x.b", "x.a", "x.b", "x.a"):
        notes += await adb(note_create, kind=kind, title=kind, recipients=[user])
    ids = [n.id for n in notes]
    [public] = await adb(note_create, kind="x.a", title="for all")
    assert (await api(server, "archive/", token, {"ids": [ids[0], public.id]}))[1] == {
        "archived": [ids[0], public.id]
    }
    assert (await api(server, "read/", token, {"ids": [ids[1]]}))[0] == 200
    assert (await api(server, "unread/", token, {"ids": [ids[1]]}))[1] == {"unread": 6}

    _, body = await api(server, "?archived=false&kind=x.a&limit=1", token)
    assert [n["id"] for n in body["notes"]] == [ids[4]]
    _, body = await api(
        server, f"?archived=false&kind=x.a&limit=1&before={body['next_before']}", token
    )
    assert [n["id"] for n in body["notes"]] == [ids[2]]
    _, body = await api(server, f"?archived=false&kind=x.a&before={ids[2]}", token)
    assert (body["notes"], body["next_before"]) == ([], None)

    _, body = await api(server, "?archived=true", token)
    assert [(n["id"], n["archived"]) for n in body["notes"]] == [(public.id, True), (ids[0], True)]
    _, body = await api(server, "?unread=false", token)
    assert body["notes"] == []
    # Archived is per user: the public note is in the other user's inbox, not archived.
    _, body = await api(server, "?archived=false&kind=x.a", other_token)
    assert [(n["id"], "archived" in n) for n in body["notes"]] == [(public.id, False)]


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ({"type": "mark_unread"}, "mark_unread needs 'ids'"),
        ({"type": "archive", "ids": [0]}, "archive needs 'ids'"),
        ({"type": "unarchive", "ids": "all"}, "unarchive needs 'ids'"),
        ({"type": "archive", "ids": list(range(1, 1002))}, "at most 1000 ids"),
    ],
)
async def test_bad_actions_over_the_socket_get_error_frames(server, frame, says):
    _, token = await adb(make_user_with_token, "bad")
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        await sock.send(json.dumps(frame))
        error = await ws.recv(sock)
        assert (error["type"], error["code"]) == ("error", "bad_request")
        assert says in error["message"]
        await sock.send('{"type": "ping"}')
        assert await ws.recv(sock) == {"type": "pong"}


async def test_anonymous_sockets_cannot_change_notes(server):
    async with await ws.connect(server.ws_url, origin=server.http_url) as sock:
        await ws.handshake(sock)
        await sock.send(json.dumps({"type": "archive", "ids": [1]}))
        error = await ws.recv(sock)
        assert (error["code"], error["message"]) == (
            "bad_request",
            "log in to change the state of notes",
        )


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("archive/", {"ids": "x"}, 400, 'send {"ids": [note ids]}'),
        ("unread/", {"all": True}, 400, 'send {"ids": [note ids]}'),
        ("unarchive/", [1], 400, "body must be a JSON object"),
        ("?archived=maybe", None, 400, "'archived' must be true or false"),
        ("?unread=true&after=3", None, 400, "page with 'before', not 'after'"),
        ("?kind=" + "k" * 65, None, 400, "'kind' takes at most"),
    ],
)
async def test_bad_api_input_is_a_clear_400(server, path, body, status, says):
    _, token = await adb(make_user_with_token, "badapi")
    got, answer = await api(server, path, token, body)
    assert got == status
    assert says in answer["error"]


async def test_actions_need_a_login(server):
    got, answer = await api(server, "archive/", None, {"ids": [1]})
    assert got == 401 and "authentication required" in answer["error"]


@pytest.fixture(scope="module")
def redis_server(start_server, redis_url):
    """A daphne on Redis, with this test process on the same layer (manage.py's events)."""
    server = start_server(redis_url=redis_url)
    layer = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [redis_url], "prefix": server.env["CHANNEL_LAYER_PREFIX"]},
    }
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        yield server


def run_command(*args):
    from realtime.publisher import publisher

    out = io.StringIO()
    call_command(*args, stdout=out)
    publisher.flush(timeout=5)
    return json.loads(out.getvalue().splitlines()[-1])


async def test_muting_takes_effect_on_open_sockets_in_every_tab_at_once(redis_server):
    server = redis_server
    user, token = await adb(make_user_with_token, "mute")
    [old_chat] = await adb(note_create, kind="chat", title="old chat", recipients=[user])
    first = await ws.connect(server.ws_url, token=token)
    second = await ws.connect(server.ws_url, token=token)
    for sock in (first, second):
        hello, _, _ = await ws.handshake(sock)
        assert hello["unread"] == 1 and "preferences" not in hello

    await first.send(json.dumps({"type": "preferences", "mute": ["chat"]}))
    assert await ws.recv(first) == {"type": "unread", "count": 0}
    prefs = await ws.recv(first)
    assert (prefs["type"], prefs["muted"]) == ("preferences", ["chat"])
    assert await ws.recv(second) == {"type": "unread", "count": 0}
    assert await ws.recv(second) == prefs

    await adb(note_create, kind="chat", title="muted", recipients=[user])
    await adb(note_create, kind="order", title="loud", recipients=[user])
    for sock in (first, second):
        chat, order = await ws.notes_until(sock, lambda got: len(got) >= 2)
        assert (chat["title"], chat.get("muted")) == ("muted", True)
        assert (order["title"], "muted" in order) == ("loud", False)

    # manage.py, another process: do not disturb reaches both tabs without a reconnect.
    shown = await adb(run_command, "note_preferences", user.username, "--quiet-minutes", "60")
    assert shown["quiet_until"] is not None
    for sock in (first, second):
        frame = await ws.recv_skipping(sock, "unread")
        assert (frame["type"], frame["quiet_until"]) == ("preferences", shown["quiet_until"])
    await adb(note_create, kind="order", title="quiet please", recipients=[user])
    for sock in (first, second):
        [order] = await ws.notes_until(sock, lambda got: len(got) >= 1)
        assert (order["title"], order.get("muted")) == ("quiet please", True)

    # The API, and a new connection's hello and replay, tell the same.
    status, body = await api(server, "preferences/", token, {"quiet_minutes": 0})
    assert status == 200 and body["quiet_until"] is None and body["muted"] == ["chat"]
    async with await ws.connect(server.ws_url, token=token, after=old_chat.id - 1) as sock:
        hello, replayed, _ = await ws.handshake(sock)
    assert hello["preferences"]["muted"] == ["chat"]
    assert [(n["kind"], n.get("muted", False)) for n in replayed] == [
        ("chat", True),
        ("chat", True),
        ("order", False),
        ("order", False),
    ]
    for sock in (first, second):
        await sock.close()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"mute": "chat"}, "'mute' must be a list of kinds"),
        ({"quiet_minutes": -1}, "'quiet_minutes' must be a whole number"),
        ({"count_muted": 1}, "'count_muted' must be true or false"),
    ],
)
async def test_bad_preferences_are_clear_errors_on_the_api_and_the_socket(server, body, says):
    _, token = await adb(make_user_with_token, "badprefs")
    status, answer = await api(server, "preferences/", token, body)
    assert status == 400 and says in answer["error"]
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        await sock.send(json.dumps({"type": "preferences", **body}))
        error = await ws.recv(sock)
        assert error["code"] == "bad_request" and says in error["message"]


async def test_a_resume_from_a_pruned_id_gets_what_is_left_and_is_told(server):
    from note.retention import note_prune

    user, token = await adb(make_user_with_token, "pruned")
    notes = []
    for i in range(4):
        notes += await adb(note_create, kind="t", title=f"n{i}", recipients=[user])
    await adb(
        lambda: Note.objects.filter(id__in=[n.id for n in notes[:2]]).update(
            created=timezone.now() - timedelta(days=100)
        )
    )
    assert await adb(note_prune, days=30) == (2, 0)
    async with await ws.connect(server.ws_url, token=token, after=notes[0].id - 1) as sock:
        _, replayed, synced = await ws.handshake(sock)
    assert [n["id"] for n in replayed] == [notes[2].id, notes[3].id]
    assert synced == {"type": "synced", "last_id": notes[3].id, "pruned": True}
    # From a point past what was pruned, nothing to tell: a v1 synced frame.
    async with await ws.connect(server.ws_url, token=token, after=notes[2].id) as sock:
        _, replayed, synced = await ws.handshake(sock)
    assert synced == {"type": "synced", "last_id": notes[3].id}


async def test_a_prune_of_another_users_notes_does_not_tell_this_one(server):
    from note.retention import note_prune

    crowded, _ = await adb(make_user_with_token, "crowded")
    _, token = await adb(make_user_with_token, "spared")
    [public] = await adb(note_create, kind="t", title="for all")
    for i in range(3):
        await adb(note_create, kind="t", title=f"c{i}", recipients=[crowded])
    assert (await adb(note_prune, per_user=1)).by_count >= 2  # other tests' users' too
    # Nothing this user could see went: a plain v1 synced frame, not "pruned".
    async with await ws.connect(server.ws_url, token=token, after=public.id - 1) as sock:
        _, replayed, synced = await ws.handshake(sock)
    assert [n["id"] for n in replayed] == [public.id]
    assert synced == {"type": "synced", "last_id": public.id}
