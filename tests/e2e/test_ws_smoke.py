"""The shortest path end to end: a token client sees a news item posted through the API."""

import asyncio
import json
import urllib.request

import pytest

from tests.support import ws
from tests.support.data import adb, make_user_with_token

pytestmark = pytest.mark.asyncio


def post_news(server, token, title):
    request = urllib.request.Request(
        f"{server.http_url}/api/news/",
        data=json.dumps({"title": title, "content": "body"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


async def test_token_client_receives_news_posted_through_the_api(server):
    user, token = await adb(make_user_with_token, "alice")
    sock = await ws.connect(server.ws_url, token=token)
    hello, replayed, synced = await ws.handshake(sock)
    assert hello["user"] == user.username
    status, news = await asyncio.to_thread(post_news, server, token, "Fresh")
    assert status == 201
    [note] = await ws.notes_until(sock, lambda notes: len(notes) >= 1)
    assert note["title"] == f"{user.username} posted news: Fresh"
    assert note["url"] == f"/news/{news['id']}/"
    await sock.close()
