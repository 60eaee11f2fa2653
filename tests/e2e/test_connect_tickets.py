"""Connect tickets: an app not served by Django opens a socket without holding a token.

It gets a one-use ticket from an authenticated HTTP call and opens
``/ws/notes/?ticket=``; a used, expired or unknown ticket is closed with 4401.
"""

from __future__ import annotations

import asyncio
import datetime

import pytest
import websockets
from django.utils import timezone

from note.models import ApiToken, ConnectTicket
from note.tickets import ticket_issue
from note.tokens import secret_hash, token_authenticate
from notes_client.protocol import CloseCode
from tests.support import ws
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, call

pytestmark = pytest.mark.asyncio

PASSWORD = "pw-ticket-123"


async def new_ticket(server, **auth) -> tuple[int, dict]:
    return await asyncio.to_thread(
        call, f"{server.http_url}/api/notes/ticket/", method="POST", body={}, **auth
    )


async def refused_with(url: str) -> tuple[int, str]:
    sock = await ws.connect(url)
    try:
        await ws.recv(sock, 5)
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the ticket opened a socket")


async def test_a_token_holder_gets_a_ticket_that_opens_one_socket_once(server):
    user, token = await adb(make_user_with_token, "ticket")
    status, body = await new_ticket(server, token=token)
    assert status == 201 and body["expires_in"] == 30
    url = f"{server.ws_url}?ticket={body['ticket']}"

    async with await ws.connect(url, origin="https://app.example") as sock:
        hello, _, _ = await ws.handshake(sock)
    assert hello["user"] == user.username

    assert (await refused_with(url))[0] == CloseCode.REVOKED


async def test_a_logged_in_page_gets_a_ticket_with_its_csrf_token_only(server):
    user = await adb(make_user, "ticketweb", password=PASSWORD)
    browser = BrowserSession(server)
    await asyncio.to_thread(browser.login, user.username, PASSWORD)
    cookie = {"Cookie": browser.cookie_header(), "Referer": f"{server.http_url}/"}

    status, _ = await new_ticket(server, headers=cookie)
    assert status == 403
    status, body = await new_ticket(
        server, headers={**cookie, "X-CSRFToken": browser.cookie("csrftoken")}
    )
    assert status == 201

    async with await ws.connect(f"{server.ws_url}?ticket={body['ticket']}") as sock:
        hello, _, _ = await ws.handshake(sock)
    assert hello["user"] == user.username


async def test_anonymous_callers_get_no_ticket(server):
    status, body = await new_ticket(server)
    assert status == 401 and "error" in body


async def test_an_expired_or_unknown_ticket_is_closed_with_4401(server):
    token_user, token = await adb(make_user_with_token, "late")
    raw = await adb(lambda: ticket_issue(user=token_user, token=token_authenticate(token)))
    await adb(
        lambda: ConnectTicket.objects.filter(key_hash=secret_hash(raw)).update(
            expires=timezone.now() - datetime.timedelta(seconds=1)
        )
    )

    code, _ = await refused_with(f"{server.ws_url}?ticket={raw}")
    assert code == CloseCode.REVOKED
    code, _ = await refused_with(f"{server.ws_url}?ticket=rtt_not-a-ticket")
    assert code == CloseCode.REVOKED


async def test_a_ticket_socket_ends_with_the_token_it_was_made_under(server):
    user, token = await adb(make_user_with_token, "tickettok")
    _, body = await new_ticket(server, token=token)
    sock = await ws.connect(f"{server.ws_url}?ticket={body['ticket']}")
    await ws.handshake(sock)

    await adb(lambda: ApiToken.objects.filter(user=user).delete())

    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.recv(sock, 10)
    assert closed.value.rcvd.code == CloseCode.REVOKED


async def test_a_ticket_socket_made_by_a_page_closes_when_that_session_logs_out(server):
    user = await adb(make_user, "ticketout", password=PASSWORD)
    browser = BrowserSession(server)
    await asyncio.to_thread(browser.login, user.username, PASSWORD)
    _, body = await new_ticket(
        server,
        headers={
            "Cookie": browser.cookie_header(),
            "Referer": f"{server.http_url}/",
            "X-CSRFToken": browser.cookie("csrftoken"),
        },
    )
    sock = await ws.connect(f"{server.ws_url}?ticket={body['ticket']}")
    await ws.handshake(sock)

    assert await asyncio.to_thread(browser.logout) in (200, 302)

    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.recv(sock, 10)
    assert closed.value.rcvd.code == CloseCode.NORMAL
