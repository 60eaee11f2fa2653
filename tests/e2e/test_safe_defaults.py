"""Safe by default, over real daphne processes (issue 18 point 4).

- a deployment that does not say ``DJANGO_DEBUG=1`` shows no debug page;
- a handshake's ``Origin`` is compared with scheme, host and port;
- the page's CSP allows sockets to the site's own origin only.
"""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
import websockets

from tests.support import ws
from tests.support.data import adb, make_user
from tests.support.http import BrowserSession, call


async def handshake_status(url, **kwargs) -> int | None:
    """None when the socket opened; the HTTP status when it was refused."""
    try:
        sock = await ws.connect(url, **kwargs)
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await sock.close()
    return None


@pytest.fixture(scope="module")
def bare(start_server):
    """A deployment that set a secret and nothing about debugging."""
    return start_server(DJANGO_DEBUG=None, DJANGO_SECRET_KEY="s" * 50, DJANGO_SECURE_COOKIES="0")


def test_a_deployment_that_does_not_say_development_shows_no_debug_page(bare, server):
    status, body = call(f"{bare.http_url}/no-such-page/")
    assert status == 404
    assert "URLconf" not in body and "accounts/login/" not in body
    # The development server (DJANGO_DEBUG=1) does list them: the check above can fail.
    status, body = call(f"{server.http_url}/no-such-page/")
    assert status == 404 and "URLconf" in body


async def logged_in_cookie(server) -> dict[str, str]:
    user = await adb(make_user, "origin", password="pw-origin-123")
    session = BrowserSession(server)
    await asyncio.to_thread(session.login, user.username, "pw-origin-123")
    return {"Cookie": session.cookie_header()}


async def test_an_origin_must_match_scheme_host_and_port(server):
    site = f"http://localhost:{server.port}"
    url = f"ws://localhost:{server.port}/ws/notes/"
    cookie = await logged_in_cookie(server)
    assert await handshake_status(url, origin=site, headers=cookie) is None
    for foreign in (
        "chrome-extension://localhost",
        "http://localhost:9999",
        f"https://localhost:{server.port}",
        f"http://127.0.0.1:{server.port}",  # another origin, though the same machine
    ):
        assert await handshake_status(url, origin=foreign, headers=cookie) == 403, foreign


async def test_origins_trusted_for_csrf_may_open_sockets_too(start_server):
    server = start_server(DJANGO_CSRF_TRUSTED_ORIGINS="http://app.example:5173")
    cookie = await logged_in_cookie(server)
    assert await handshake_status(server.ws_url, origin="http://app.example:5173") is None
    assert (
        await handshake_status(server.ws_url, origin="http://app.example:5174", headers=cookie)
        == 403
    )


def test_the_page_allows_sockets_to_its_own_origin_only(server):
    with urllib.request.urlopen(f"{server.http_url}/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["connect-src"].split() == ["'self'", f"ws://127.0.0.1:{server.port}"]
