"""Running the ORM from the socket side without queueing every connection behind one thread.

Channels' ``database_sync_to_async`` is thread-sensitive by default: every
call in the process runs on one thread, one after another. With 2,000
clients connecting at once that queue alone outlasted daphne's 5 s handshake
timeout. The work here (token lookups, hello counts, replays, marking read)
shares no state between calls, so it runs on a small pool of threads, each
with its own database connection (pooled on PostgreSQL, see settings).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

_executor = ThreadPoolExecutor(max_workers=settings.WS_DB_THREADS, thread_name_prefix="realtime-db")


def run_in_db_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``database_sync_to_async``, on the socket-side pool (old connections closed)."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=_executor)
