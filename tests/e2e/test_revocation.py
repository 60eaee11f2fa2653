"""Revocation is live: when a credential ends, its sockets close with 4401 in every process.

Two daphne processes share a private Redis. With the channel layer up, the
periodic catch-up is set to a minute, so a socket that closes in time was
closed by the layer's announcement (or by the check before a private note),
not by the safety net. With Redis stopped, the catch-up (1 s) must do it alone.
Changes are made the way an operator makes them: ``manage.py`` in its own
process, the password-change page, the ORM of another process.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
import uuid

import pytest
import websockets
from django.utils import timezone

from note.models import ApiToken
from note.services import note_create
from note.tokens import token_issue
from notes_client.protocol import CloseCode
from tests.support import ws
from tests.support.daphne import ROOT
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, call, post_news
from tests.support.services import RedisServer, database_url_for_subprocess, free_port

pytestmark = pytest.mark.asyncio

LAYER_ONLY = {"NOTES_CATCH_UP_SECONDS": "60"}
PREFIX = f"rt-revoke-{uuid.uuid4().hex[:8]}"
PASSWORD = "pw-revoke-123"


@pytest.fixture(scope="module")
def private_redis():
    redis = RedisServer()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def pair(start_server, private_redis):
    return (
        start_server(redis_url=private_redis.url, layer_prefix=PREFIX, **LAYER_ONLY),
        start_server(redis_url=private_redis.url, layer_prefix=PREFIX, **LAYER_ONLY),
    )


def manage(*args: str, redis_url: str | None) -> str:
    """``manage.py`` in its own process, on the servers' database and layer."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_DEBUG": "1",
        "CHANNEL_LAYER_PREFIX": PREFIX,
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def amanage(*args: str, redis_url: str | None) -> str:
    return await asyncio.to_thread(manage, *args, redis_url=redis_url)


async def close_of(sock, timeout: float = 10.0) -> tuple[int | None, list[dict]]:
    """(close code, frames received before it)."""
    frames = []
    try:
        while True:
            frames.append(await ws.recv(sock, timeout))
    except websockets.ConnectionClosed as exc:
        return (exc.rcvd.code if exc.rcvd else None), frames


async def token_socket(server, token):
    sock = await ws.connect(server.ws_url, token=token)
    await ws.handshake(sock)
    return sock


async def session_socket(server, session):
    sock = await ws.connect(
        server.ws_url, origin=server.http_url, headers={"Cookie": session.cookie_header()}
    )
    hello, _, _ = await ws.handshake(sock)
    return sock, hello


async def still_open(sock, server, token) -> bool:
    """Does ``sock`` still get live notes? (a public note posted through ``server``)"""
    news = await asyncio.to_thread(post_news, server, token, f"alive {uuid.uuid4().hex[:6]}")
    got = await ws.notes_until(sock, lambda notes: any(n["url"] == news["url"] for n in notes))
    return bool(got)


async def test_revoking_a_token_closes_its_sockets_in_both_processes_and_no_other(pair):
    a, b = pair
    user, doomed = await adb(make_user_with_token, "revtok")
    kept = await adb(token_issue, user=user)
    on_a, on_b, other = (
        await token_socket(a, doomed),
        await token_socket(b, doomed),
        await token_socket(b, kept),
    )
    token_id = await adb(lambda: ApiToken.objects.get(user=user, prefix=doomed[:12]).pk)

    out = await amanage("revoke_token", str(token_id), redis_url=pair_redis_url(a))

    assert "revoked" in out
    assert (await close_of(on_a))[0] == CloseCode.REVOKED
    assert (await close_of(on_b))[0] == CloseCode.REVOKED
    assert await still_open(other, a, kept)
    with pytest.raises(websockets.InvalidStatus):
        await ws.connect(a.ws_url, token=doomed)
    status, _ = await asyncio.to_thread(call, f"{a.http_url}/api/notes/", token=doomed)
    assert status == 401
    status, metrics = await asyncio.to_thread(call, f"{b.http_url}/metrics")
    assert status == 200
    assert 'realtime_clients_cut_off_total{reason="credentials_revoked"} 1.0' in metrics
    await other.close()


def pair_redis_url(server) -> str:
    return server.env["REDIS_URL"]


async def test_deactivating_a_user_closes_token_and_session_sockets_everywhere(pair):
    a, b = pair
    user = await adb(make_user, "deact", password=PASSWORD)
    token = await adb(token_issue, user=user)
    browser = BrowserSession(b)
    await asyncio.to_thread(browser.login, user.username, PASSWORD)
    by_token = await token_socket(a, token)
    by_session, hello = await session_socket(b, browser)
    assert hello["user"] == user.username

    await amanage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as m;"
        f"u = m().objects.get(pk={user.pk}); u.is_active = False; u.save()",
        redis_url=pair_redis_url(a),
    )

    assert (await close_of(by_token))[0] == CloseCode.REVOKED
    assert (await close_of(by_session))[0] == CloseCode.REVOKED


async def test_deleting_a_user_closes_their_sockets(pair):
    a, b = pair
    user, token = await adb(make_user_with_token, "deleted")
    sockets = [await token_socket(a, token), await token_socket(b, token)]

    await amanage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as m;"
        f"m().objects.get(pk={user.pk}).delete()",
        redis_url=pair_redis_url(a),
    )

    for sock in sockets:
        assert (await close_of(sock))[0] == CloseCode.REVOKED


async def test_a_password_change_closes_the_sessions_sockets_and_only_its_own_session_reconnects(
    pair,
):
    a, b = pair
    user = await adb(make_user, "passwd", password=PASSWORD)
    changer, other = BrowserSession(a), BrowserSession(b)
    for browser in (changer, other):
        await asyncio.to_thread(browser.login, user.username, PASSWORD)
    mine, _ = await session_socket(a, changer)
    theirs, _ = await session_socket(b, other)

    status = await asyncio.to_thread(
        changer.post,
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-pw-4567",
            "new_password2": "a-new-pw-4567",
        },
    )

    assert status in (200, 302)
    assert (await close_of(theirs))[0] == CloseCode.REVOKED
    # Django gives the changing session a new key: the socket opened under the
    # old one ends too, and the page's new cookie reconnects as the user.
    assert (await close_of(mine))[0] == CloseCode.REVOKED
    again, hello = await session_socket(b, changer)
    assert hello["user"] == user.username
    await again.close()
    refused, hello = await session_socket(a, other)
    assert hello["user"] is None
    await refused.close()


async def test_logout_everywhere_ends_sessions_tokens_and_their_sockets(pair):
    a, b = pair
    user = await adb(make_user, "everywhere", password=PASSWORD)
    token = await adb(token_issue, user=user)
    browser = BrowserSession(a)
    await asyncio.to_thread(browser.login, user.username, PASSWORD)
    by_session, _ = await session_socket(a, browser)
    by_token = await token_socket(b, token)

    out = await amanage("logout_everywhere", user.username, redis_url=pair_redis_url(a))

    assert "1 session(s) ended, 1 token(s) revoked" in out
    assert (await close_of(by_session))[0] == CloseCode.REVOKED
    assert (await close_of(by_token))[0] == CloseCode.REVOKED
    again, hello = await session_socket(a, browser)
    assert hello["user"] is None  # the cookie no longer logs anyone in
    await again.close()


async def test_a_private_note_after_a_revocation_never_reaches_the_revoked_socket(pair):
    """The revoking process cannot reach Redis, so no process hears of it over the
    layer; the private note that follows does come over the layer, at once."""
    a, b = pair
    user, token = await adb(make_user_with_token, "race")
    sock = await token_socket(b, token)
    token_id = await adb(lambda: ApiToken.objects.get(user=user).pk)

    await amanage("revoke_token", str(token_id), redis_url=f"redis://127.0.0.1:{free_port()}/0")
    await amanage(
        "shell",
        "-c",
        "from note.signals import notify; from django.contrib.auth import get_user_model as m;"
        f"notify.send(None, title='secret', recipients=m().objects.get(pk={user.pk}))",
        redis_url=pair_redis_url(a),
    )

    code, frames = await close_of(sock)
    assert code == CloseCode.REVOKED
    assert not [f for f in frames if f["type"] == "note" and f["note"]["title"] == "secret"]


async def test_an_expiring_token_closes_its_socket_then_is_refused(pair):
    a, _ = pair
    user = await adb(make_user, "expiring")
    soon = await adb(
        lambda: token_issue(user=user, expires=timezone.now() + datetime.timedelta(seconds=2))
    )
    sock = await token_socket(a, soon)

    code, _ = await close_of(sock, timeout=15)

    assert code == CloseCode.REVOKED
    with pytest.raises(websockets.InvalidStatus):
        await ws.connect(a.ws_url, token=soon)
    status, body = await asyncio.to_thread(call, f"{a.http_url}/api/notes/", token=soon)
    assert status == 401 and "expired" in body["error"]


# Redis down: the periodic catch-up finds the change in the database.


@pytest.fixture(scope="module")
def stopped_redis_pair(start_server):
    redis = RedisServer()
    redis.start()
    servers = (
        start_server(redis_url=redis.url, layer_prefix=PREFIX),
        start_server(redis_url=redis.url, layer_prefix=PREFIX),
    )
    redis.stop()
    yield servers


async def test_with_redis_down_a_revocation_still_closes_sockets_in_both_processes(
    stopped_redis_pair,
):
    a, b = stopped_redis_pair
    user = await adb(make_user, "down", password=PASSWORD)
    token = await adb(token_issue, user=user)
    browser = BrowserSession(a)
    await asyncio.to_thread(browser.login, user.username, PASSWORD)
    on_a, on_b = await token_socket(a, token), await token_socket(b, token)
    by_session, _ = await session_socket(b, browser)

    def revoke_then_notify():
        ApiToken.objects.filter(user=user).delete()
        note_create(kind="t", title="after revocation", recipients=[user])

    await adb(revoke_then_notify)

    for sock in (on_a, on_b):
        code, frames = await close_of(sock)
        assert code == CloseCode.REVOKED
        assert not [f for f in frames if f["type"] == "note"]
    # The session is another credential: it stays, and gets the note.
    got = await ws.notes_until(by_session, lambda notes: len(notes) >= 1)
    assert got[0]["title"] == "after revocation"
    await by_session.close()
