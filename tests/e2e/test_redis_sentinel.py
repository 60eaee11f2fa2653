"""``REDIS_SENTINELS``: the layer finds its Redis through Sentinel (docs/deploy.md)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest

from tests.support import ws
from tests.support.data import adb, make_user_with_token
from tests.support.http import call, post_news
from tests.support.services import RedisServer, free_port, missing, port_open

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory):
    """A private Redis master and one sentinel watching it as ``notes-master``."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed")
    master = RedisServer()
    master.start()
    port = free_port()
    conf = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\n"
        f"sentinel monitor notes-master 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds notes-master 1000\n"
    )
    proc = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while not port_open(port):
        assert proc.poll() is None and time.monotonic() < deadline, "sentinel did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
    master.stop()


async def test_two_processes_share_notes_through_a_sentinel_managed_redis(start_server, sentinel):
    env = {
        "REDIS_SENTINELS": sentinel,
        "REDIS_SENTINEL_MASTER": "notes-master",
        "NOTES_CATCH_UP_SECONDS": "60",  # what arrives in time came through Redis
    }
    a, b = start_server(**env), start_server(**env)
    for server in (a, b):
        status, health = await asyncio.to_thread(call, f"{server.http_url}/healthz")
        assert (status, health) == (200, {"database": "ok", "channel_layer": "ok"})
    _, token = await adb(make_user_with_token, "sentinel")
    sock = await ws.connect(b.ws_url, token=token)
    await ws.handshake(sock)
    news = await asyncio.to_thread(post_news, a, token, "through the sentinel's master")
    [note] = await ws.notes_until(sock, lambda notes: len(notes) >= 1, timeout=5)
    assert note["url"] == news["url"]
    await sock.close()
