"""``GET /healthz``: can this process read its notes and reach its channel layer?

It answers within ``CHECK_TIMEOUT`` whatever the database does. The database
check runs on a thread of its own, never on the thread-sensitive one that
Django's sync code shares (a hung query there held every later check, and
the request's thread pool waited for it: no answer in 20 s, issue 19). While
a check is still waiting for the database, the next ones do not start
another: they report it as hanging.
"""

from __future__ import annotations

import asyncio

from django.http import HttpRequest, JsonResponse

from note import inbox
from realtime.db import run_in_hub_thread
from realtime.layer import notes_layer, redis_hosts

# Load balancers and Kubernetes probes give up after about a second by default.
CHECK_TIMEOUT = 0.8


class DatabaseHanging(Exception):
    """An earlier check is still waiting for the database."""


_database_check: asyncio.Future | None = None


async def _check_database() -> None:
    """Read the newest note id (the catch-up's query) on the hub's database thread."""
    global _database_check
    earlier = _database_check
    if (
        earlier is not None
        and not earlier.done()
        and earlier.get_loop() is asyncio.get_running_loop()  # another loop's (a test's) is gone
    ):
        raise DatabaseHanging("the previous check has not been answered")
    # Kept apart from the caller's timeout: a check that outlives it stays
    # the one in flight until the database answers.
    _database_check = asyncio.ensure_future(run_in_hub_thread(inbox.note_last_id, within=3600))
    _database_check.add_done_callback(_retrieve)
    await asyncio.shield(_database_check)


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # read, so that a failure is not logged as never retrieved


async def _check_layer() -> None:
    hosts = redis_hosts()
    if not hosts:
        notes_layer()  # in-memory (or another kind): configured is healthy
        return
    from channels_redis.utils import create_pool
    from redis import asyncio as aioredis

    # The layer's own way of reaching Redis (a URL, or the master via Sentinel).
    pool = create_pool({**hosts[0], "socket_connect_timeout": CHECK_TIMEOUT})
    client = aioredis.Redis(connection_pool=pool)
    try:
        await client.ping()
    finally:
        await client.aclose()
        await pool.disconnect()


async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _check_database(),
        "channel_layer": _check_layer(),
    }
    report: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT)
            report[name] = "ok"
        except Exception as exc:
            report[name] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in report.values())
    return JsonResponse(report, status=200 if healthy else 503)
