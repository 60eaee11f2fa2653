"""Running the ORM from the socket side: fair to every user, bounded, and never waited on forever.

Channels' ``database_sync_to_async`` is thread-sensitive by default: every
call in the process runs on one thread, one after another. With 2,000
clients connecting at once that queue alone outlasted daphne's 5 s handshake
timeout. The work here (token lookups, hello counts, replays, marking read)
shares no state between calls, so it runs on a small pool of threads, each
with its own database connection (pooled on PostgreSQL, see settings).

The pool is shared by every socket of the process, so it takes turns:

- each call names whose work it is (a user id; anonymous and handshake work
  is nobody's in particular). One owner's calls hold at most
  ``NOTES_DB_USER_SHARE`` threads at a time, and the threads serve the
  owners that are waiting in turn: 40 sockets of one user marking notes read
  as fast as they may wait behind each other, not in front of everyone's
  connect (issue 19: everyone's connect went from 15 to 972 ms);
- at most ``NOTES_DB_QUEUE_LIMIT`` calls wait in the whole process; past
  that a call is refused at once with :class:`DatabaseBusy` instead of
  joining a queue that only grows. Work a client may simply repeat
  (``mark_read``) is refused sooner, past ``USER_QUEUE_PER_THREAD`` calls
  per thread of its owner's share: connects of one user's 40 tabs after a
  restart wait their turn, the same tabs marking read as fast as they may
  do not pile up;
- a call that has run for ``NOTES_DB_TIMEOUT_SECONDS`` without an answer
  raises ``TimeoutError`` to its caller (a hanging database looks like a
  refused one); its thread finishes when the database answers or the
  statement timeout of the settings ends the query. Waiting for a thread is
  not the database hanging: a connect storm of a few thousand sockets queues
  for longer than a hanging query should take, and closing those sockets
  only sends them back into the storm. So the wait for a thread has its own,
  longer bound, ``NOTES_DB_QUEUE_TIMEOUT_SECONDS``; a call that was not
  started by then is dropped unrun.

The hub's own reads run on a thread of their own (:func:`run_in_hub_thread`),
so sockets' work can never starve the catch-up that keeps every socket
complete.

The hop itself is a plain job on our threads with the same connection
hygiene as Channels (old connections closed before and after each call) and
the caller's context variables. asgiref's ``SyncToAsync`` around the same
work was 6.8 % of the server's own-time samples in a connect storm (py-spy,
500 clients, docs/performance.md); this hop does nothing it does not need.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from django.db import close_old_connections

from realtime import conf

P = ParamSpec("P")
R = TypeVar("R")

# Calls one owner may have waiting, per thread of its share.
USER_QUEUE_PER_THREAD = 8


class DatabaseBusy(Exception):
    """The socket side's database queue (or one owner's part of it) is full: try later."""


class _Job:
    __slots__ = ("future", "owner", "share", "started", "work")

    def __init__(self, owner: Hashable, work: Callable[[], Any], share: int) -> None:
        self.owner = owner
        self.work = work
        self.share = share
        self.started: float | None = None  # monotonic time a thread took it
        self.future: concurrent.futures.Future = concurrent.futures.Future()


class FairPool:
    """Threads that run database calls, taking turns between the owners that wait.

    ``submit`` may be called from any thread. Owners wait in a ring: a free
    thread takes the first call of the first owner (in the order they began
    waiting) that holds fewer than ``share`` threads, and that owner goes to
    the back of the ring.
    """

    def __init__(self, threads: int, name: str) -> None:
        self._threads = threads
        self._name = name
        self._lock = threading.Condition()
        self._waiting: dict[Hashable, deque[_Job]] = {}  # insertion order is the ring
        self._running: dict[Hashable, int] = {}
        self._queued = 0
        self._started = False

    def submit(
        self,
        owner: Hashable,
        work: Callable[[], Any],
        *,
        share: int,
        limit: int,
        owner_limit: int | None = None,
    ) -> _Job:
        """Queue ``work`` for ``owner``; raises ``DatabaseBusy`` when ``limit`` calls (or
        ``owner_limit`` of this owner's) are waiting already."""
        job = _Job(owner, work, share)
        with self._lock:
            mine = self._waiting.get(owner)
            if self._queued >= limit or (
                owner_limit is not None and mine is not None and len(mine) >= owner_limit
            ):
                raise DatabaseBusy("too much database work waiting")
            if mine is None:
                mine = self._waiting[owner] = deque()
            mine.append(job)
            self._queued += 1
            if not self._started:
                self._start()
            self._lock.notify()
        return job

    def _start(self) -> None:
        self._started = True
        for number in range(self._threads):
            threading.Thread(target=self._serve, name=f"{self._name}-{number}", daemon=True).start()

    def _next(self) -> _Job | None:
        for owner, jobs in self._waiting.items():
            if self._running.get(owner, 0) < jobs[0].share:
                job = jobs.popleft()
                del self._waiting[owner]
                if jobs:
                    self._waiting[owner] = jobs  # to the back of the ring
                self._queued -= 1
                self._running[owner] = self._running.get(owner, 0) + 1
                return job
        return None

    def _serve(self) -> None:
        while True:
            with self._lock:
                job = self._next()
                while job is None:
                    self._lock.wait()
                    job = self._next()
            try:
                job.started = time.monotonic()
                if job.future.set_running_or_notify_cancel():
                    try:
                        job.future.set_result(job.work())
                    except BaseException as exc:
                        job.future.set_exception(exc)
            finally:
                with self._lock:
                    left = self._running[job.owner] - 1
                    if left:
                        self._running[job.owner] = left
                    else:
                        del self._running[job.owner]
                    self._lock.notify()


_pool = FairPool(conf.DB_THREADS, "realtime-db")
_hub_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realtime-hub-db")


def run_in_db_thread(
    fn: Callable[P, R], *, owner: Hashable | None = None, repeatable: bool = False
) -> Callable[P, Awaitable[R]]:
    """``fn`` as a coroutine function that runs on the socket-side pool as ``owner``'s work.

    ``owner`` is a user id, or None for work that is nobody's in particular
    (each such call takes its turn alone); ``repeatable`` work is refused
    once its owner has a few calls waiting. The coroutine raises
    ``DatabaseBusy`` at once when it may not wait, and ``TimeoutError``
    after ``NOTES_DB_TIMEOUT_SECONDS``.
    """

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        context = contextvars.copy_context()
        work = functools.partial(context.run, _with_fresh_connection, fn, args, kwargs)
        job = _pool.submit(
            object() if owner is None else owner,
            work,
            share=conf.DB_USER_SHARE,
            limit=conf.DB_QUEUE_LIMIT,
            owner_limit=conf.DB_USER_SHARE * USER_QUEUE_PER_THREAD if repeatable else None,
        )
        return await _job_result(
            job, queue_within=conf.DB_QUEUE_TIMEOUT_SECONDS, run_within=conf.DB_TIMEOUT_SECONDS
        )

    return call


async def run_in_hub_thread(fn: Callable[..., R], *args: Any, within: float, **kwargs: Any) -> R:
    """Run ``fn`` on the hub's own database thread; ``TimeoutError`` after ``within`` seconds.

    A call that timed out keeps the thread until the database answers, so the
    next call waits behind it and times out too: a hanging database keeps
    failing until it answers again.
    """
    context = contextvars.copy_context()
    work = functools.partial(context.run, _with_fresh_connection, fn, args, kwargs)
    return await _result(_hub_executor.submit(work), within=within)


async def _job_result(job: _Job, *, queue_within: float, run_within: float) -> Any:
    """The job's result once it has run; ``TimeoutError`` when it waited ``queue_within``
    seconds for a thread (it is then dropped unrun) or ran ``run_within`` seconds.

    The caller is woken by the result alone (no wake-up when a thread takes
    the job): it wakes every ``run_within`` seconds to look at ``job.started``.
    """
    result = asyncio.wrap_future(job.future)
    queue_deadline = time.monotonic() + queue_within
    while True:
        now, started = time.monotonic(), job.started
        if started is None:
            if now >= queue_deadline and job.future.cancel():
                raise TimeoutError("no database thread was free in time")
            wait = min(run_within, queue_deadline - now)
        else:
            wait = started + run_within - now
            if wait <= 0:
                result.cancel()  # the thread runs on; its result is dropped
                raise TimeoutError("the database did not answer in time")
        try:
            return await asyncio.wait_for(asyncio.shield(result), max(wait, 0.01))
        except TimeoutError:
            continue


# The hub's sweep of pending notes (issue 14) has a thread of its own: a
# sweep that waits on a hanging database must not hold up the catch-up,
# whose failures are what close the sockets with 1012.
_sweep_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realtime-hub-sweep")


async def run_in_sweep_thread(fn: Callable[..., R], *args: Any, within: float) -> R:
    """Like :func:`run_in_hub_thread`, on the sweep's own thread."""
    context = contextvars.copy_context()
    work = functools.partial(context.run, _with_fresh_connection, fn, args, {})
    return await _result(_sweep_executor.submit(work), within=within)


async def _result(future: concurrent.futures.Future, *, within: float) -> Any:
    # The thread's future is not cancelled by asyncio's timeout unless it has
    # not started; a started call runs on, and its result is dropped.
    return await asyncio.wait_for(asyncio.wrap_future(future), within)


def _with_fresh_connection(fn: Callable[..., R], args: tuple, kwargs: dict[str, Any]) -> R:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()
