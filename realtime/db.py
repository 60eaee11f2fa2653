"""Running the ORM from the socket side without queueing every connection behind one thread.

Channels' ``database_sync_to_async`` is thread-sensitive by default: every
call in the process runs on one thread, one after another. With 2,000
clients connecting at once that queue alone outlasted daphne's 5 s handshake
timeout. The work here (token lookups, hello counts, replays, marking read)
shares no state between calls, so it runs on a small pool of threads, each
with its own database connection (pooled on PostgreSQL, see settings).

The hop itself is a plain ``run_in_executor`` with the same connection
hygiene as Channels (old connections closed before and after each call) and
the caller's context variables. asgiref's ``SyncToAsync`` around the same
work was 6.8 % of the server's own-time samples in a connect storm (py-spy,
500 clients, docs/performance.md); this hop does nothing it does not need.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from django.db import close_old_connections

from realtime import conf

P = ParamSpec("P")
R = TypeVar("R")

_executor = ThreadPoolExecutor(max_workers=conf.DB_THREADS, thread_name_prefix="realtime-db")


def run_in_db_thread(fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``fn`` as a coroutine function that runs on the socket-side pool."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        context = contextvars.copy_context()
        job = functools.partial(context.run, _with_fresh_connection, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(_executor, job)

    return call


def _with_fresh_connection(fn: Callable[..., R], args: tuple, kwargs: dict[str, Any]) -> R:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()
