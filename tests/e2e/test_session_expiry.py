"""A socket opened with a session cookie closes (4401) when that session expires.

One daphne process on the shared Redis. The session's expiry is changed the way a
site changes it, through the session store (``request.session.set_expiry`` in a view
does exactly this save), from this test's process: the server only sees the stored
row, as it would for a request served by another process or another tab.
"""

from __future__ import annotations

import asyncio
import uuid
from importlib import import_module

import pytest
import websockets
from django.conf import settings

from notes_client.protocol import CloseCode
from tests.support import ws
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, post_news

pytestmark = pytest.mark.asyncio

PASSWORD = "pw-sessexp-123"
# Seconds a session is given to live once its socket is open.
SHORT = 3


@pytest.fixture(scope="module")
def server(start_server):
    return start_server()


def set_session_expiry(session_key: str, seconds: int) -> None:
    """What ``request.session.set_expiry(seconds)`` saves, for the stored session."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    session.set_expiry(seconds)
    session.save()


async def logged_in(server, prefix: str) -> tuple[BrowserSession, str]:
    user = await adb(make_user, prefix, password=PASSWORD)
    browser = BrowserSession(server)
    await asyncio.to_thread(browser.login, user.username, PASSWORD)
    return browser, user.username


async def session_socket(server, browser: BrowserSession):
    sock = await ws.connect(
        server.ws_url, origin=server.http_url, headers={"Cookie": browser.cookie_header()}
    )
    hello, _, _ = await ws.handshake(sock)
    return sock, hello


async def close_of(sock, timeout: float = 15.0) -> int | None:
    try:
        while True:
            await ws.recv(sock, timeout)
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def still_open(sock, server, token) -> bool:
    """Does ``sock`` still get live notes? (a public note posted through ``server``)"""
    news = await asyncio.to_thread(post_news, server, token, f"alive {uuid.uuid4().hex[:6]}")
    got = await ws.notes_until(sock, lambda notes: any(n["url"] == news["url"] for n in notes))
    return bool(got)


async def test_an_expiring_session_closes_its_socket_and_leaves_the_others_open(server):
    browser, username = await logged_in(server, "sessexp")
    await adb(set_session_expiry, browser.cookie("sessionid"), SHORT)
    by_session, hello = await session_socket(server, browser)
    assert hello["user"] == username
    anonymous = await ws.connect(server.ws_url, origin=server.http_url)
    await ws.handshake(anonymous)
    _, token = await adb(make_user_with_token, "sessexp-tok")
    by_token = await ws.connect(server.ws_url, token=token)
    await ws.handshake(by_token)

    assert await close_of(by_session) == CloseCode.REVOKED
    assert await still_open(anonymous, server, token)
    assert await still_open(by_token, server, token)
    again, hello = await session_socket(server, browser)
    assert hello["user"] is None  # the expired cookie logs nobody in
    for sock in (again, anonymous, by_token):
        await sock.close()


async def test_a_session_extended_before_its_expiry_keeps_its_socket_open(server):
    browser, username = await logged_in(server, "sessext")
    key = browser.cookie("sessionid")
    await adb(set_session_expiry, key, SHORT)
    sock, hello = await session_socket(server, browser)
    assert hello["user"] == username

    # Another tab's request (SESSION_SAVE_EVERY_REQUEST) moves the stored expiry on.
    await adb(set_session_expiry, key, 3600)
    await asyncio.sleep(SHORT + 2)  # past the expiry the socket was opened with

    _, token = await adb(make_user_with_token, "sessext-tok")
    assert await still_open(sock, server, token)
    await sock.close()


async def test_a_session_deleted_from_the_store_closes_its_socket_by_its_expiry(server):
    browser, _ = await logged_in(server, "sessdel")
    key = browser.cookie("sessionid")
    await adb(set_session_expiry, key, SHORT)
    sock, _ = await session_socket(server, browser)

    # The row goes before the timer fires: the re-read finds nothing and closes.
    await adb(lambda: import_module(settings.SESSION_ENGINE).SessionStore(key).delete())

    assert await close_of(sock) == CloseCode.REVOKED
