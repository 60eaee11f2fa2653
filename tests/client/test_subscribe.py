"""``subscribe()``, the library behind the command line, against a real daphne process."""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import aclosing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from news.services import news_publish
from note.selectors import note_last_id
from notes_client import BadURL, ServerUnreachable, TokenRefused, subscribe
from notes_client.subscription import BACKOFF_BASE, BACKOFF_CAP, backoff_delay
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.services import free_port


def publish_news(author, title: str) -> str:
    return news_publish(author=author, title=title).title


async def test_subscribe_yields_the_replay_then_live_notes_each_once_in_id_order(server):
    _, token = await adb(make_user_with_token, "lib")
    author = await adb(make_user, "author")
    start = await adb(note_last_id)
    for title in ("one", "two"):
        await adb(publish_news, author, title)

    seen = []
    async with (
        asyncio.timeout(30),
        aclosing(subscribe(server.ws_url, token=token, after=start)) as notes,
    ):
        async for note in notes:
            seen.append(note)
            if len(seen) == 2:  # the replay is done: now a live one
                await adb(publish_news, author, "three")
            if len(seen) == 3:
                break

    assert [n["title"] for n in seen] == [
        f"{author.username} posted news: {t}" for t in ("one", "two", "three")
    ]
    ids = [n["id"] for n in seen]
    assert ids == sorted(set(ids)) and ids[0] > start
    assert {n["actor"] for n in seen} == {author.username}


async def test_a_refused_token_raises_token_refused_at_once(server):
    with pytest.raises(TokenRefused, match="HTTP 403"):
        async with asyncio.timeout(10):
            async for _ in subscribe(server.ws_url, token="rtn_revoked-or-made-up"):
                pass


async def test_a_token_revoked_while_connected_raises_token_refused_instead_of_retrying(server):
    from note.models import ApiToken

    user, token = await adb(make_user_with_token, "revoked")
    received = []

    async def listen():
        async for note in subscribe(server.ws_url, token=token, after=0):
            received.append(note)

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.5)  # connected (or connecting): the revocation must end it either way
    await adb(lambda: ApiToken.objects.filter(user=user).delete())
    with pytest.raises(TokenRefused, match=r"ended this token's access|refused the token"):
        async with asyncio.timeout(20):
            await listening


async def test_no_server_raises_server_unreachable_after_the_given_attempts():
    url = f"ws://127.0.0.1:{free_port()}/ws/notes/"
    with pytest.raises(ServerUnreachable, match=r"connection refused \(2 attempts\)"):
        async with asyncio.timeout(10):
            async for _ in subscribe(url, token="rtn_x", connect_attempts=2):
                pass


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/ws/notes/", "127.0.0.1:8000/ws/notes/", "ws://:8000/", ""]
)
async def test_a_url_that_is_not_a_websocket_url_raises_bad_url(url):
    with pytest.raises(BadURL):
        async for _ in subscribe(url, token="rtn_x"):
            pass


@pytest.mark.parametrize(
    ("attempt", "longest"), [(0, 0.5), (1, 1.0), (5, 16.0), (6, 30.0), (99, 30.0)]
)
def test_backoff_doubles_from_half_a_second_up_to_thirty(attempt, longest):
    """docs/protocol.md: a random wait between 0 and min(30 s, 0.5 s * 2^attempt)."""
    assert backoff_delay(attempt, rng=lambda: 1.0) == longest
    assert backoff_delay(attempt, rng=lambda: 0.0) == 0.0


@given(attempt=st.integers(0, 10_000))
def test_backoff_is_jittered_within_its_bound(attempt):
    delays = {backoff_delay(attempt) for _ in range(20)}
    assert all(0 <= d <= min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempt, 32)) for d in delays)
    assert len(delays) > 1  # full jitter: clients cut off together do not return together


async def test_a_rate_limited_close_waits_the_seconds_it_names(start_server, caplog):
    """4429 (RATE_LIMITED) says "retry after N s": the client waits at least that, then gets in."""
    limited = start_server(LIMIT_SOCKETS_PER_USER="1")
    user, token = await adb(make_user_with_token, "limited")
    author = await adb(make_user, "author")
    holder = await connect_socket(limited.ws_url, token)
    caplog.set_level(logging.INFO, logger="notes_client")
    seen = []
    async with asyncio.timeout(30), aclosing(subscribe(limited.ws_url, token=token)) as notes:
        waiting = asyncio.ensure_future(anext(notes))
        while "4429" not in caplog.text:  # noqa: ASYNC110 (the log is what the user sees)
            await asyncio.sleep(0.05)
        await holder.close()  # the slot comes free while the client waits
        while not waiting.done():
            await adb(publish_news, author, "after the limit")
            await asyncio.wait({waiting}, timeout=0.5)
        seen.append(waiting.result())
    refusal = next(r.getMessage() for r in caplog.records if "4429" in r.getMessage())
    assert "retry after 1 s" in refusal
    assert float(re.search(r"retrying in ([\d.]+) s", refusal).group(1)) >= 1.0
    assert seen[0]["title"].endswith("posted news: after the limit")


async def connect_socket(url: str, token: str):
    from tests.support.ws import connect, handshake

    ws = await connect(url, token=token)
    await handshake(ws)
    return ws
