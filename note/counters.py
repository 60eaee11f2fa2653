"""Where the limits count: this process's memory, or Redis shared by every process.

Two stores, one interface (``note.limits`` picks one from ``NOTES_LIMITS_REDIS``):

- ``hit(key, window)`` / ``ahit``: a fixed window. Adds one to ``key``'s count
  and returns ``(count, seconds_left)``; the count starts again at 1 when the
  window has passed. In Redis one Lua script does INCR + PEXPIRE atomically,
  so every process adds to the same number.
- ``socket_acquire(key, limit)`` / ``socket_release(key)``: open sockets of one
  user. In Redis a hash per user counts each process's sockets (field = the
  process's id), and a sorted set holds each process's lease (score = when it
  ends). A process renews its lease every ``LEASE_SECONDS / 3``; a killed
  process stops renewing, and its counts stop counting when its lease ends,
  so a crash never leaks slots for longer than ``LEASE_SECONDS``.

Only ``MemoryStore`` needs no Redis; it counts for one process.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from typing import Any

# A process's socket counts stop counting this long after its last renewal.
LEASE_SECONDS = 60.0
# Redis answers within this or the limit fails open (note.limits).
REDIS_TIMEOUT_SECONDS = 0.5

# This process, in the shared counts of open sockets.
PROCESS_ID = uuid.uuid4().hex

HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""

# KEYS: the user's hash, the leases. ARGV: process, limit, now (ms), lease end (ms).
ACQUIRE_SCRIPT = """
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[3])
local open = 0
for i = 1, #fields, 2 do
  local lease = redis.call('ZSCORE', KEYS[2], fields[i])
  if lease and tonumber(lease) > now then
    open = open + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if open >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], 2 * (tonumber(ARGV[4]) - now))
return 1
"""

RELEASE_SCRIPT = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return left
"""


def redis_client(connection: str | dict[str, Any], *, asyncio_client: bool):
    """A redis-py client (asyncio or not) for a URL or ``{"sentinels": [...], "master_name": ...}``,
    with ``REDIS_TIMEOUT_SECONDS`` on connecting and on every answer: shared by
    every user of ``NOTES_LIMITS_REDIS`` (the limits here, delivery's token cache)."""
    import redis
    import redis.asyncio
    import redis.asyncio.sentinel
    import redis.sentinel

    options = {
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    }
    if isinstance(connection, dict):  # {"sentinels": [(host, port)], "master_name": ...}
        module = redis.asyncio.sentinel if asyncio_client else redis.sentinel
        sentinel = module.Sentinel(connection["sentinels"], **options)
        return sentinel.master_for(connection["master_name"], **options)
    module = redis.asyncio if asyncio_client else redis
    return module.Redis.from_url(connection, **options)


def _seconds_left(milliseconds: int) -> int:
    return max(1, math.ceil(milliseconds / 1000))


class MemoryStore:
    """Counts in this process only: the default without Redis (``make run``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[str, tuple[int, float]] = {}
        self.sockets: dict[str, int] = {}

    def hit(self, key: str, window: float) -> tuple[int, int]:
        now = time.monotonic()
        with self.lock:
            count, ends = self.windows.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + window
                if len(self.windows) > 100_000:  # forget windows that have passed
                    self.windows = {k: v for k, v in self.windows.items() if v[1] > now}
            self.windows[key] = (count + 1, ends)
        return count + 1, _seconds_left(int((ends - now) * 1000))

    async def ahit(self, key: str, window: float) -> tuple[int, int]:
        return self.hit(key, window)

    async def socket_acquire(self, key: str, limit: int) -> bool:
        with self.lock:
            if self.sockets.get(key, 0) >= limit:
                return False
            self.sockets[key] = self.sockets.get(key, 0) + 1
            return True

    async def socket_release(self, key: str) -> None:
        with self.lock:
            left = self.sockets.get(key, 0) - 1
            if left > 0:
                self.sockets[key] = left
            else:
                self.sockets.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.windows.clear()
            self.sockets.clear()


class RedisStore:
    """Counts in Redis, shared by every process that uses the same Redis and prefix.

    HTTP views run in threads and use a synchronous client; the WebSocket gate
    runs on the event loop and uses an asyncio client of that loop.
    """

    def __init__(
        self,
        connection: str | dict[str, Any],
        prefix: str,
        *,
        process_id: str = PROCESS_ID,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.connection = connection
        self.process_id = process_id
        self.lease_seconds = lease_seconds
        self.prefix = prefix
        self.leases = f"{prefix}:leases"
        self.sync_client = self._client(asyncio_client=False)
        self.async_clients: dict[int, Any] = {}
        self.held: dict[str, int] = {}  # this process's open sockets, per user key
        self.renewer: asyncio.Task | None = None

    def _client(self, *, asyncio_client: bool):
        return redis_client(self.connection, asyncio_client=asyncio_client)

    def _async_client(self):
        loop = asyncio.get_running_loop()
        client = self.async_clients.get(id(loop))
        if client is None:
            client = self.async_clients[id(loop)] = self._client(asyncio_client=True)
        return client

    def hit(self, key: str, window: float) -> tuple[int, int]:
        count, left = self.sync_client.eval(
            HIT_SCRIPT, 1, f"{self.prefix}:{key}", int(window * 1000)
        )
        return int(count), _seconds_left(int(left))

    async def ahit(self, key: str, window: float) -> tuple[int, int]:
        count, left = await self._async_client().eval(
            HIT_SCRIPT, 1, f"{self.prefix}:{key}", int(window * 1000)
        )
        return int(count), _seconds_left(int(left))

    async def socket_acquire(self, key: str, limit: int) -> bool:
        now = int(time.time() * 1000)
        granted = await self._async_client().eval(
            ACQUIRE_SCRIPT,
            2,
            f"{self.prefix}:sockets:{key}",
            self.leases,
            self.process_id,
            limit,
            now,
            now + int(self.lease_seconds * 1000),
        )
        if granted:
            self.held[key] = self.held.get(key, 0) + 1
            self._start_renewing()
        return bool(granted)

    async def socket_release(self, key: str) -> None:
        left = self.held.get(key, 0) - 1
        if left > 0:
            self.held[key] = left
        else:
            self.held.pop(key, None)
        await self._async_client().eval(
            RELEASE_SCRIPT, 1, f"{self.prefix}:sockets:{key}", self.process_id
        )

    def _start_renewing(self) -> None:
        if self.renewer is None or self.renewer.done():
            self.renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        """Keeps this process's lease, and the hashes of the users it holds, alive."""
        while self.held:
            await asyncio.sleep(self.lease_seconds / 3)
            # Shielded: a cancel that lands inside the Redis client can be taken
            # for the client's own timeout and come out as an ordinary error,
            # which this loop would swallow and live on (a shutdown that never
            # ends). So this task is cancelled at the await; the renewal in
            # flight finishes or fails on its own.
            renewal = asyncio.ensure_future(self.renew())
            renewal.add_done_callback(_retrieve)
            try:
                await asyncio.shield(renewal)
            except Exception:  # Redis away: the counts lapse, the limit fails open
                pass

    async def renew(self) -> None:
        now = int(time.time() * 1000)
        lease_ms = int(self.lease_seconds * 1000)
        async with self._async_client().pipeline(transaction=False) as pipe:
            pipe.zadd(self.leases, {self.process_id: now + lease_ms})
            pipe.zremrangebyscore(self.leases, "-inf", now - 10 * lease_ms)
            for key in list(self.held):
                pipe.pexpire(f"{self.prefix}:sockets:{key}", 2 * lease_ms)
            await pipe.execute()


def _retrieve(task: asyncio.Future) -> None:
    """Read a finished renewal's outcome, so that Redis being away is not logged as
    an exception nobody retrieved (the renewer fails open by design)."""
    if not task.cancelled():
        task.exception()
