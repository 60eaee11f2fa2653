"""Delete per user against a real daphne: every tab drops the note, the API, the
hello's count and a resume no longer show it, and everyone else keeps a public note."""

import asyncio
import json

import pytest

from note.models import Note
from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call

pytestmark = pytest.mark.asyncio


def api(server, path, token, body=None):
    return asyncio.to_thread(
        call,
        f"{server.http_url}/api/notes/{path}",
        method="POST" if body is not None else "GET",
        body=body,
        token=token,
    )


async def test_a_delete_over_the_socket_reaches_every_tab_and_no_one_else(server):
    user, token = await adb(make_user_with_token, "deleter")
    _, other_token = await adb(make_user_with_token, "keeper")
    [public] = await adb(note_create, kind="t", title="for all")
    [private] = await adb(note_create, kind="t", title="mine", recipients=[user])
    [kept] = await adb(note_create, kind="t", title="kept", recipients=[user])
    first = await ws.connect(server.ws_url, token=token)
    second = await ws.connect(server.ws_url, token=token)
    bystander = await ws.connect(server.ws_url, token=other_token)
    hellos = [(await ws.handshake(sock))[0] for sock in (first, second, bystander)]
    assert [h["unread"] for h in hellos] == [3, 3, 1]

    await first.send(json.dumps({"type": "delete", "ids": [public.id, private.id]}))
    for sock in (first, second):
        assert await ws.recv(sock) == {"type": "unread", "count": 1}
        assert await ws.recv(sock) == {
            "type": "changed",
            "ids": [public.id, private.id],
            "deleted": True,
        }
    assert await ws.quiet(bystander, 0.3) == []
    for sock in (first, second, bystander):
        await sock.close()

    status, body = await api(server, "", token)
    assert (status, [n["id"] for n in body["notes"]], body["unread"]) == (200, [kept.id], 1)
    status, body = await api(server, "", other_token)
    assert [n["id"] for n in body["notes"]] == [public.id]
    assert not await adb(Note.objects.filter(id=private.id).exists)
    # A resume from before them all, and a fresh hello, agree.
    async with await ws.connect(server.ws_url, token=token, after=0) as sock:
        hello, replayed, _ = await ws.handshake(sock)
    assert (hello["unread"], [n["id"] for n in replayed]) == (1, [kept.id])
    async with await ws.connect(server.ws_url, token=other_token, after=0) as sock:
        _, replayed, _ = await ws.handshake(sock)
    assert [n["id"] for n in replayed] == [public.id]


async def test_a_delete_through_the_api_reaches_the_open_sockets(server):
    user, token = await adb(make_user_with_token, "apidel")
    [mine] = await adb(note_create, kind="t", title="mine", recipients=[user])
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        status, body = await api(server, "delete/", token, {"ids": [mine.id, 10**12]})
        assert (status, body) == (200, {"deleted": [mine.id], "unread": 0})
        assert await ws.recv(sock) == {"type": "unread", "count": 0}
        assert await ws.recv(sock) == {"type": "changed", "ids": [mine.id], "deleted": True}
        # Again: nothing left to delete, nothing said.
        assert await api(server, "delete/", token, {"ids": [mine.id]}) == (
            200,
            {"deleted": [], "unread": 0},
        )
        assert await ws.quiet(sock, 0.3) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "ids"),
        ({"ids": "1"}, "ids"),
        ({"ids": [0]}, "ids"),
        ({"ids": [True]}, "ids"),
        ({"ids": list(range(1, 1002))}, "at most 1000"),
    ],
)
async def test_bad_deletes_are_answered_with_clear_errors(server, body, says):
    _, token = await adb(make_user_with_token, "baddel")
    status, answer = await api(server, "delete/", token, body)
    assert status == 400 and says in answer["error"]
    async with await ws.connect(server.ws_url, token=token) as sock:
        await ws.handshake(sock)
        await sock.send(json.dumps({"type": "delete", **body}))
        error = await ws.recv(sock)
        assert error["type"] == "error" and error["code"] == "bad_request"
        assert says in error["message"]


async def test_anonymous_cannot_delete(server):
    [public] = await adb(note_create, kind="t", title="for all")
    status, answer = await asyncio.to_thread(
        call, f"{server.http_url}/api/notes/delete/", method="POST", body={"ids": [public.id]}
    )
    assert status in (401, 403) and "error" in answer
    async with await ws.connect(server.ws_url, origin=server.http_url) as sock:
        await ws.handshake(sock)
        await sock.send(json.dumps({"type": "delete", "ids": [public.id]}))
        assert (await ws.recv(sock))["code"] == "bad_request"
    assert await adb(Note.objects.filter(id=public.id).exists)
