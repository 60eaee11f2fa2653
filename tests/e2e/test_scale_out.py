"""Two daphne processes on one Redis: every note and every logout reaches both."""

import asyncio

import pytest

from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.http import BrowserSession, post_news

pytestmark = pytest.mark.asyncio

# Larger than any wait below: what arrives in time came through the channel
# layer, not through the once-a-second database catch-up.
LAYER_ONLY = {"NOTES_CATCH_UP_SECONDS": "60"}


@pytest.fixture(scope="module")
def pair(start_server, redis_url):
    return start_server(redis_url=redis_url, **LAYER_ONLY), start_server(
        redis_url=redis_url, **LAYER_ONLY
    )


async def test_a_note_posted_through_either_process_reaches_clients_of_both(pair):
    a, b = pair
    user, token = await adb(make_user_with_token, "scale")
    on_a = await ws.connect(a.ws_url, token=token)
    on_b = await ws.connect(b.ws_url, token=token)
    anon_b = await ws.connect(b.ws_url, origin=b.http_url)
    for sock in (on_a, on_b, anon_b):
        await ws.handshake(sock)
    first = await asyncio.to_thread(post_news, a, token, "via A")
    second = await asyncio.to_thread(post_news, b, token, "via B")
    for sock in (on_a, on_b, anon_b):
        got = await ws.notes_until(sock, lambda notes: len(notes) >= 2, timeout=3)
        assert [n["url"] for n in got] == [first["url"], second["url"]]
        await sock.close()


async def test_private_notes_cross_processes_to_their_recipient_only(pair, settings, redis_url):
    a, b = pair
    user, token = await adb(make_user_with_token, "dm")
    _, other_token = await adb(make_user_with_token, "other")
    mine = await ws.connect(b.ws_url, token=token)
    theirs = await ws.connect(b.ws_url, token=other_token)
    await ws.handshake(mine)
    await ws.handshake(theirs)
    # Created in this test process, published on the same Redis and prefix as the servers.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": a.env["CHANNEL_LAYER_PREFIX"]},
        }
    }
    note = (await adb(note_create, kind="dm", title="psst", recipients=[user]))[0]
    [got] = await ws.notes_until(mine, lambda notes: len(notes) >= 1, timeout=3)
    assert got["id"] == note.id and got["public"] is False
    assert await ws.quiet(theirs, 1.0) == []
    await mine.close()
    await theirs.close()


async def test_logging_out_through_one_process_closes_sockets_on_the_other(pair):
    a, b = pair
    user = await adb(make_user, "out", password="pw-out-12345")
    session = BrowserSession(a)
    await asyncio.to_thread(session.login, user.username, "pw-out-12345")
    sock = await ws.connect(
        b.ws_url, origin=b.http_url, headers={"Cookie": session.cookie_header()}
    )
    hello, _, _ = await ws.handshake(sock)
    assert hello["user"] == user.username
    await asyncio.to_thread(session.logout)
    with pytest.raises(Exception) as closed:
        await ws.recv(sock, timeout=5)
    assert getattr(closed.value, "rcvd", None) is not None and closed.value.rcvd.code == 1000


async def test_an_idle_client_still_gets_the_next_note_through_the_layer(pair):
    """redis-py 8's 5 s socket timeout kills idle channels-redis receivers
    (channels_redis#422); our listener must survive 20 quiet seconds."""
    a, b = pair
    _, token = await adb(make_user_with_token, "idle")
    sock = await ws.connect(b.ws_url, token=token)
    await ws.handshake(sock)
    await asyncio.sleep(20)
    news = await asyncio.to_thread(post_news, a, token, "after the quiet")
    [note] = await ws.notes_until(sock, lambda notes: len(notes) >= 1, timeout=3)
    assert note["url"] == news["url"]
    await sock.close()
    for server in pair:
        assert "Timeout reading" not in server.logs()
        assert "layer_receive_failed" not in server.logs()
