"""``GET /healthz``: can this process reach its database and its channel layer?"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, JsonResponse

from realtime.layer import notes_layer, redis_hosts

# Load balancers and Kubernetes probes give up after about a second by default.
CHECK_TIMEOUT = 0.8


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


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
        "database": sync_to_async(_check_database, thread_sensitive=True)(),
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
