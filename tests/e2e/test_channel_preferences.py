"""Per-channel preferences against a real daphne: set over the socket, the API or
manage.py, effective at once in every open socket of the user, v1 frames unchanged."""

import asyncio
import json

import pytest

from note.services import note_create
from tests.e2e.test_inbox import api, redis_server, run_command  # noqa: F401
from tests.support import ws
from tests.support.data import adb, make_user_with_token

pytestmark = pytest.mark.asyncio


async def test_channel_choices_reach_every_tab_and_mark_the_notes_that_follow(
    redis_server,  # noqa: F811
):
    server = redis_server
    user, token = await adb(make_user_with_token, "chan")
    first = await ws.connect(server.ws_url, token=token)
    second = await ws.connect(server.ws_url, token=token)
    for sock in (first, second):
        hello, _, _ = await ws.handshake(sock)
        assert "preferences" not in hello  # a v1 hello until the user chooses anything

    # A note before any choice is exactly a v1 note: no channels_off, no muted.
    await adb(note_create, kind="chat", title="plain", recipients=[user])
    for sock in (first, second):
        [plain] = await ws.notes_until(sock, lambda got: len(got) >= 1)
        assert "channels_off" not in plain and "muted" not in plain

    change = {"type": "preferences", "channels": {"chat": {"desktop": False}}}
    await first.send(json.dumps(change))
    prefs = await ws.recv(first)
    assert prefs["type"] == "preferences" and prefs["channels"] == {"chat": {"desktop": False}}
    assert prefs["channel_defaults"] == {"*": ["toast", "desktop", "email"]}
    assert await ws.recv(second) == prefs

    await adb(note_create, kind="chat", title="no desktop", recipients=[user])
    await adb(note_create, kind="order", title="everywhere", recipients=[user])
    for sock in (first, second):
        chat, order = await ws.notes_until(sock, lambda got: len(got) >= 2)
        assert chat["channels_off"] == ["desktop"] and "muted" not in chat
        assert "channels_off" not in order

    # manage.py in another process: every kind off the page's toasts.
    shown = await adb(run_command, "note_preferences", user.username, "--channel", "*:toast=off")
    assert shown["channels"] == {"*": {"toast": False}, "chat": {"desktop": False}}
    for sock in (first, second):
        frame = await ws.recv(sock)
        assert frame["channels"] == shown["channels"]
    await adb(note_create, kind="chat", title="neither", recipients=[user])
    for sock in (first, second):
        [chat] = await ws.notes_until(sock, lambda got: len(got) >= 1)
        assert chat["channels_off"] == ["toast", "desktop"]

    # The API reads and changes the same; a new connection's hello and replay agree.
    status, body = await api(server, "preferences/", token, {"channels": {"*": {"toast": None}}})
    assert status == 200 and body["channels"] == {"chat": {"desktop": False}}
    status, body = await api(server, "preferences/", token)
    assert status == 200 and body["channels"] == {"chat": {"desktop": False}}
    async with await ws.connect(server.ws_url, token=token, after=0) as sock:
        hello, replayed, _ = await ws.handshake(sock)
    assert hello["preferences"]["channels"] == {"chat": {"desktop": False}}
    assert [(n["title"], n.get("channels_off")) for n in replayed] == [
        ("plain", ["desktop"]),
        ("no desktop", ["desktop"]),
        ("everywhere", None),
        ("neither", ["desktop"]),
    ]
    for sock in (first, second):
        await sock.close()


@pytest.mark.parametrize(
    "channels",
    [
        {"chat": {"sms": True}},
        {"chat": {"email": "off"}},
        {"chat": ["email"]},
        ["chat"],
        {"": {"email": False}},
    ],
)
async def test_bad_channel_choices_are_clear_errors_on_the_api_and_the_socket(server, channels):
    _, token = await adb(make_user_with_token, "badchan")
    says = "'channels' must map kinds"
    status, answer = await api(server, "preferences/", token, {"channels": channels})
    assert status == 400 and says in answer["error"]
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        await sock.send(json.dumps({"type": "preferences", "channels": channels}))
        error = await ws.recv(sock)
        assert error["code"] == "bad_request" and says in error["message"]
        await sock.send(json.dumps({"type": "ping"}))
        assert await asyncio.wait_for(ws.recv(sock), 10) == {"type": "pong"}
