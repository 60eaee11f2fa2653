"""The token cache on real daphne processes: warm handshakes skip the database, and
every way a credential ends still refuses the next handshake within seconds (issue 15).

Two daphne processes share the test Redis under a private prefix (their
channel layer and their token cache). Changes are made as an operator makes
them (``manage.py`` in its own process, which announces them over the layer
and deletes the cached snapshots), and also behind the cache's back: the
database changed directly plus a ``CredentialChange`` row, no announcement,
no Redis delete; then only the change log the hub reads every catch-up
(``NOTES_CATCH_UP_SECONDS``, 1 s) can stop the snapshot, still in Redis, from
being believed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import pytest
import redis
import websockets
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from note.models import ApiToken, CredentialChange
from note.tokens import secret_hash, token_issue
from tests.support import ws
from tests.support.daphne import ROOT
from tests.support.data import adb, make_user_with_token
from tests.support.metrics import scrape, value
from tests.support.services import database_url_for_subprocess

pytestmark = pytest.mark.asyncio

PREFIX = f"rt-tokcache-{uuid.uuid4().hex[:8]}"
TOKENS = f"{PREFIX}:tokens"  # config/settings.py: CHANNEL_LAYER_PREFIX + ":tokens"
# A change is announced over the layer at once; behind the cache's back it is
# read from the log within a catch-up (1 s). Either way, well within this.
REFUSED_WITHIN = 4.0
# By then every process has read the log since the change (one catch-up, and
# the read's own time). The first process to read it deletes the snapshot from
# Redis, so a refusal alone may come from that delete: a snapshot put back
# after this shows that each process knows of the change itself.
EVERY_PROCESS_READ_THE_LOG = 1.5


@pytest.fixture(scope="module")
def pair(start_server, redis_url):
    return (
        start_server(redis_url=redis_url, layer_prefix=PREFIX),
        start_server(redis_url=redis_url, layer_prefix=PREFIX),
    )


def manage(*args: str, redis_url: str) -> str:
    """``manage.py`` in its own process, on the servers' database, layer and cache."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_DEBUG": "1",
        "CHANNEL_LAYER_PREFIX": PREFIX,
        "REDIS_URL": redis_url,
    }
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


async def amanage(*args: str, redis_url: str) -> str:
    return await asyncio.to_thread(manage, *args, redis_url=redis_url)


def checks(server) -> dict[str, float]:
    samples = scrape(server)
    paths = ("cached", "miss", "stale", "unsure", "down", "off")
    return {p: value(samples, "realtime_token_checks_total", path=p) for p in paths}


async def connects(server, token) -> bool:
    """Is a handshake with ``token`` accepted (hello and all)?"""
    try:
        sock = await ws.connect(server.ws_url, token=token)
    except websockets.InvalidStatus:
        return False
    try:
        await ws.handshake(sock)
    finally:
        await sock.close()
    return True


async def refused_within(server, token, seconds: float = REFUSED_WITHIN) -> float:
    """How long until a handshake with ``token`` is refused (fails past ``seconds``)."""
    started = time.monotonic()
    while await connects(server, token):
        took = time.monotonic() - started
        assert took < seconds, f"still accepted {took:.1f} s after the change"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def warm(pair, token) -> None:
    """Cache ``token`` and prove both processes now accept it without the database."""
    a, b = pair
    assert await connects(a, token)
    before = [checks(a), checks(b)]
    assert await connects(a, token) and await connects(b, token)
    after = [checks(a), checks(b)]
    for was, now in zip(before, after, strict=True):
        assert now["cached"] == was["cached"] + 1, (was, now)
        assert now["miss"] == was["miss"] and now["stale"] == was["stale"]


def snapshot_in_redis(redis_url: str, token: str) -> bool:
    return bool(redis.Redis.from_url(redis_url).exists(f"{TOKENS}:t:{secret_hash(token)}"))


class LostDelete:
    """The token's cached snapshot, kept to be put back after the change: as if the
    Redis delete that follows every change had been lost, or a check that read the
    database just before the change had written it just after."""

    def __init__(self, redis_url: str, token: str) -> None:
        self.redis = redis.Redis.from_url(redis_url)
        self.key = f"{TOKENS}:t:{secret_hash(token)}"
        self.snapshot = self.redis.get(self.key)
        assert self.snapshot is not None

    def put_back(self) -> None:
        self.redis.set(self.key, self.snapshot, ex=3600)


async def test_a_token_issued_elsewhere_is_cached_before_its_first_handshake(pair, redis_url):
    a, _ = pair
    name = f"issued-{uuid.uuid4().hex[:6]}"
    token = (await amanage("issue_token", name, "--create", redis_url=redis_url)).split()[-1]
    before = checks(a)

    assert await connects(a, token)

    after = checks(a)
    assert after["cached"] == before["cached"] + 1
    assert after["miss"] == before["miss"]


async def test_a_bad_token_is_still_refused(pair):
    a, _ = pair
    assert not await connects(a, "rtn_" + "x" * 43)


async def test_revoking_a_warm_token_refuses_its_next_handshake_everywhere(pair, redis_url):
    user, token = await adb(make_user_with_token, "tc-revoke")
    await warm(pair, token)
    token_id = await adb(lambda: ApiToken.objects.get(user=user).pk)

    await amanage("revoke_token", str(token_id), redis_url=redis_url)

    for server in pair:
        await refused_within(server, token)
    assert not snapshot_in_redis(redis_url, token)  # the fast path deleted it


async def test_deactivating_a_warm_users_token_refuses_the_next_handshake_everywhere(
    pair, redis_url
):
    user, token = await adb(make_user_with_token, "tc-deact")
    await warm(pair, token)

    await amanage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as m;"
        f"u = m().objects.get(pk={user.pk}); u.is_active = False; u.save()",
        redis_url=redis_url,
    )

    for server in pair:
        await refused_within(server, token)


async def test_deleting_a_warm_user_refuses_their_token_everywhere(pair, redis_url):
    user, token = await adb(make_user_with_token, "tc-delete")
    await warm(pair, token)

    await amanage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as m;"
        f"m().objects.get(pk={user.pk}).delete()",
        redis_url=redis_url,
    )

    for server in pair:
        await refused_within(server, token)


async def test_logging_out_everywhere_refuses_the_warm_token_everywhere(pair, redis_url):
    user, token = await adb(make_user_with_token, "tc-everywhere")
    await warm(pair, token)

    out = await amanage("logout_everywhere", user.username, redis_url=redis_url)

    assert "1 token(s) revoked" in out
    for server in pair:
        await refused_within(server, token)


async def test_a_password_change_sends_the_next_handshake_to_the_database(pair, redis_url):
    """Tokens survive a password change (docs/security.md); what the cache must not do is
    answer from before it: the next handshake asks the database, which accepts."""
    user, token = await adb(make_user_with_token, "tc-passwd")
    await warm(pair, token)
    a, b = pair
    before = checks(a)

    await amanage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model as m;"
        f"u = m().objects.get(pk={user.pk}); u.set_password('new-pw-8912'); u.save()",
        redis_url=redis_url,
    )
    await asyncio.sleep(EVERY_PROCESS_READ_THE_LOG)

    assert await connects(a, token)
    after = checks(a)
    assert after["cached"] == before["cached"], (before, after)
    assert after["miss"] + after["stale"] == before["miss"] + before["stale"] + 1
    assert await connects(b, token)


def _change_recorded_quietly(user_key: str) -> None:
    """A ``CredentialChange`` row as ``note.credentials.credential_change_record`` writes it,
    without its after-commit announcement (so no process hears of it, nothing in
    Redis is deleted): only the log tells."""
    CredentialChange.objects.create(user_key=user_key, at=timezone.now())


async def test_behind_the_caches_back_a_deactivation_is_refused_within_the_log_poll(
    pair, redis_url
):
    user, token = await adb(make_user_with_token, "tc-quiet-deact")
    await warm(pair, token)
    lost = LostDelete(redis_url, token)

    def deactivate_quietly():
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)  # no signals
        _change_recorded_quietly(str(user.pk))

    await adb(deactivate_quietly)

    for server in pair:
        took = await refused_within(server, token)
        assert took < 1 + REFUSED_WITHIN / 2, took
    # The snapshot back in Redis is not believed: it predates the change.
    await asyncio.sleep(EVERY_PROCESS_READ_THE_LOG)
    lost.put_back()
    for server in pair:
        stale_before = checks(server)["stale"]
        assert not await connects(server, token)
        assert checks(server)["stale"] == stale_before + 1


async def test_behind_the_caches_back_a_deleted_token_is_refused_within_the_log_poll(
    pair, redis_url
):
    user, token = await adb(make_user_with_token, "tc-quiet-del")
    kept = await adb(token_issue, user=user)
    await warm(pair, token)
    await warm(pair, kept)
    lost = LostDelete(redis_url, token)

    def delete_quietly():
        ApiToken.objects.filter(key_hash=secret_hash(token))._raw_delete(connection.alias)
        _change_recorded_quietly(str(user.pk))

    await adb(delete_quietly)

    for server in pair:
        await refused_within(server, token)
    await asyncio.sleep(EVERY_PROCESS_READ_THE_LOG)
    lost.put_back()
    for server in pair:
        assert not await connects(server, token)
    # The user's other token is still good: asked of the database again, and accepted.
    for server in pair:
        assert await connects(server, kept)


async def test_a_lost_delete_after_an_announced_revocation_is_not_believed(pair, redis_url):
    user, token = await adb(make_user_with_token, "tc-lost")
    await warm(pair, token)
    lost = LostDelete(redis_url, token)
    token_id = await adb(lambda: ApiToken.objects.get(user=user).pk)

    await amanage("revoke_token", str(token_id), redis_url=redis_url)
    for server in pair:
        await refused_within(server, token)
    await asyncio.sleep(EVERY_PROCESS_READ_THE_LOG)
    lost.put_back()

    for server in pair:
        stale_before = checks(server)["stale"]
        assert not await connects(server, token)
        assert checks(server)["stale"] == stale_before + 1
