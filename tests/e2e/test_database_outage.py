"""A database that hangs or drops its connections, against real daphne processes.

The notes table is locked by a session of the test (``tests.support.database``),
so every query of the server on it waits: the way a stuck migration or an
overloaded database looks from the application. Each test failed before its
fix (issue 19): sockets got nothing and no 1012, /healthz did not answer,
connects stayed registered, and the PostgreSQL pool handed out dead connections.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets
from django.db import connection

from note.models import ApiToken
from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.database import notes_table_locked, table_locked, terminate_connections_of
from tests.support.http import call
from tests.support.metrics import scrape, value

pytestmark = pytest.mark.asyncio


async def close_code(sock, within: float) -> int | None:
    """The code the server closed ``sock`` with, reading (and dropping) frames until then;
    None if it is still open after ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                await sock.recv()
    except TimeoutError:
        return None
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 1006


async def open_connections(server) -> float:
    return value(await asyncio.to_thread(scrape, server), "realtime_connections_open")


async def test_a_hanging_database_closes_live_sockets_with_1012_within_seconds(start_server):
    server = start_server()
    _, token = await adb(make_user_with_token, "hang")
    sockets = [await ws.connect(server.ws_url, token=token) for _ in range(2)]
    sockets.append(await ws.connect(server.ws_url, origin=server.http_url))
    for sock in sockets:
        await ws.handshake(sock)

    with notes_table_locked():
        began = time.monotonic()
        # The hub's catch-up cannot read: it must give up like on a refused
        # connection (three failures) instead of waiting with everyone's notes.
        codes = await asyncio.gather(*(close_code(s, within=25) for s in sockets))
        waited = time.monotonic() - began
    assert codes == [1012, 1012, 1012], codes
    assert waited < 25
    assert "catch_up_failed" in server.logs()

    # Once the database answers again, clients resume as usual.
    async with await ws.connect(server.ws_url, token=token) as again:
        hello, _, _ = await ws.handshake(again)
    assert hello["type"] == "hello"


async def test_connects_while_the_database_hangs_get_1012_and_leave_no_connection_behind(
    start_server,
):
    server = start_server(WS_DB_TIMEOUT_SECONDS="2")
    assert await open_connections(server) == 0
    with notes_table_locked():
        # Anonymous: the handshake itself needs no database, the hello does.
        sockets = [await ws.connect(server.ws_url, origin=server.http_url) for _ in range(10)]
        codes = await asyncio.gather(*(close_code(s, within=15) for s in sockets))
        assert codes == [1012] * 10, codes
        assert await open_connections(server) == 0
    assert "ws_connect_failed" in server.logs()


async def test_a_token_that_cannot_be_checked_while_the_database_hangs_gets_1012_not_a_500(
    start_server,
):
    # A token the database cannot look up is not a bad token (a 403 would
    # tell the client to give up) and not a server crash (daphne's 500).
    server = start_server(WS_DB_TIMEOUT_SECONDS="2")
    _, token = await adb(make_user_with_token, "unchecked")
    with table_locked(ApiToken):
        sock = await ws.connect(server.ws_url, token=token)
        assert await close_code(sock, within=15) == 1012
    assert "ws_auth_unchecked" in server.logs()
    async with await ws.connect(server.ws_url, token=token) as again:
        hello, _, _ = await ws.handshake(again)
    assert hello["type"] == "hello"


async def test_a_connect_queued_behind_a_slow_call_is_not_timed_out_by_the_run_limit(
    start_server,
):
    # One thread, a 2 s limit on a running call. The first socket's hello
    # hangs on the lock and is cut at 2 s; the second only waits for the
    # thread (3.5 s in all): waiting in line is not the database hanging, and
    # closing queued sockets in a connect storm sent them back into the storm.
    server = start_server(WS_DB_THREADS="1", WS_DB_TIMEOUT_SECONDS="2")
    with notes_table_locked():
        first = await ws.connect(server.ws_url, origin=server.http_url)
        await asyncio.sleep(0.2)
        second = await ws.connect(server.ws_url, origin=server.http_url)
        assert await close_code(first, within=10) == 1012
        await asyncio.sleep(1.3)
    hello, _, _ = await ws.handshake(second)
    assert hello["type"] == "hello"
    await second.close()


async def test_a_client_that_leaves_while_its_connect_waits_is_not_counted_forever(start_server):
    # Database calls may wait long here; daphne cancels the consumer of a
    # client that left 2 s ago. A cancelled connect used to stay registered.
    server = start_server(
        WS_DB_TIMEOUT_SECONDS="120", daphne_args=("--application-close-timeout", "2")
    )
    with notes_table_locked():
        for _ in range(5):
            sock = await ws.connect(server.ws_url, origin=server.http_url)
            await sock.close()
        deadline = time.monotonic() + 20
        while await open_connections(server):
            assert time.monotonic() < deadline, "connections left behind by cancelled connects"
            await asyncio.sleep(0.5)


async def test_healthz_answers_503_within_a_second_while_the_database_hangs(start_server):
    server = start_server()
    with notes_table_locked():
        for _ in range(3):
            began = time.monotonic()
            status, body = await asyncio.to_thread(call, f"{server.http_url}/healthz", timeout=10)
            took = time.monotonic() - began
            assert status == 503, (status, body)
            assert body["database"].startswith("error"), body
            assert body["channel_layer"] == "ok"
            assert took < 1.5, took
    # And healthy again once it answers (the check left hanging has finished).
    deadline = time.monotonic() + 20
    while (await asyncio.to_thread(call, f"{server.http_url}/healthz"))[0] != 200:
        assert time.monotonic() < deadline, "healthz stayed 503 after the database came back"
        await asyncio.sleep(0.5)


async def test_after_postgresql_drops_its_connections_the_api_answers_without_errors(
    start_server,
):
    if connection.vendor != "postgresql":
        pytest.skip("the connection pool is PostgreSQL's (psycopg_pool)")
    server = start_server()
    _, token = await adb(make_user_with_token, "pool")
    await adb(note_create, kind="t", title="pooled")

    def notes() -> int:
        return call(f"{server.http_url}/api/notes/", token=token)[0]

    # Fill the pool with open connections, then end them all, as a restart would.
    statuses = await asyncio.gather(*(asyncio.to_thread(notes) for _ in range(8)))
    assert set(statuses) == {200}
    assert await adb(terminate_connections_of, server) > 0
    statuses = [await asyncio.to_thread(notes) for _ in range(12)]
    assert statuses == [200] * 12, statuses
