"""Counted by PostgreSQL itself: warm token handshakes read no token row (issue 15).

``pg_stat_user_tables`` counts every scan of the token table, whoever makes
it (``pg_stat_statements`` is not loaded on the suite's PostgreSQL). A server
process reports its sessions' counts when they end, so the server is stopped
and its sessions gone before the second reading. The same handshakes with
the cache turned off (``TOKEN_CACHE_SECONDS=off``) show that the count does
see token lookups: one per handshake.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import pytest
import websockets
from django.db import connection

from note.models import ApiToken
from tests.support import ws
from tests.support.daphne import ROOT
from tests.support.data import adb
from tests.support.services import database_url_for_subprocess

pytestmark = pytest.mark.asyncio

HANDSHAKES = 20


def token_table_scans() -> int:
    """Sequential and index scans of the token table, as PostgreSQL counted them so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_user_tables"
            " WHERE relname = %s",
            [ApiToken._meta.db_table],
        )
        return cursor.fetchone()[0]


def sessions_of(server) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [server.application_name],
        )
        return cursor.fetchone()[0]


def issue_tokens(count: int, *, prefix: str, redis_url: str) -> list[str]:
    """``count`` tokens issued by another process on the same Redis and prefix (so each
    is cached as it is issued), which has exited, its reads counted, on return."""
    code = (
        "from note.tokens import token_issue, user_by_name;"
        f"[print(token_issue(user=user_by_name('q{uuid.uuid4().hex[:6]}-' + str(i), create=True)))"
        f" for i in range({count})]"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_DEBUG": "1",
        "CHANNEL_LAYER_PREFIX": prefix,
        "REDIS_URL": redis_url,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-count:]


@pytest.mark.parametrize("cache", ["on", "off"])
async def test_warm_token_handshakes_read_no_token_row(start_server, redis_url, cache):
    if connection.vendor != "postgresql":
        pytest.skip("counted from PostgreSQL's statistics (pg_stat_user_tables)")
    prefix = f"rt-tcq-{uuid.uuid4().hex[:8]}"
    tokens = await asyncio.to_thread(issue_tokens, HANDSHAKES, prefix=prefix, redis_url=redis_url)
    env = {} if cache == "on" else {"TOKEN_CACHE_SECONDS": "off"}
    server = start_server(redis_url=redis_url, layer_prefix=prefix, **env)
    before = await adb(token_table_scans)

    for token in tokens:
        try:
            sock = await ws.connect(server.ws_url, token=token)
        except websockets.InvalidStatus as exc:
            pytest.fail(f"a valid token was refused: {exc}")
        hello, _, _ = await ws.handshake(sock)  # the hello's queries still run
        assert hello["user"] is not None
        await sock.close()
    await asyncio.to_thread(server.stop)
    deadline = time.monotonic() + 10
    while await adb(sessions_of, server):
        assert time.monotonic() < deadline, "the server's sessions did not end"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # each session reports its counts as it ends

    scans = await adb(token_table_scans) - before
    if cache == "on":
        assert scans == 0
    else:
        assert scans >= HANDSHAKES
