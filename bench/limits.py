"""What the limits of issue 18 cost, and that they hold: ``python bench/limits.py``.

One daphne process on a temporary SQLite database and the machine's Redis
(``BENCH_REDIS_URL``, default 127.0.0.1:6379, under a private prefix), run
three ways: limits off, limits on and counted in Redis (set high, so nothing
is refused: the cost of counting), and the default limits. For each it
prints the handshake time (connect to ``hello``, one after another, over
several users) and the ``POST /api/news/`` time, then how many of 100
sockets of one token the default limits let in. ``docs/performance.md``
has a run's table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.daphne import LIMITS, DaphneServer  # noqa: E402
from tests.support.http import call  # noqa: E402
from tests.support.ws import connect  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
HIGH = {name: ("100000" if name.endswith("SOCKETS_PER_USER") else "100000/1s") for name in LIMITS}
DEFAULTS = dict.fromkeys(LIMITS, "")  # empty: the settings' own defaults


def manage(database_url: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_"))}
    env.update(DATABASE_URL=database_url, DJANGO_DEBUG="1", LOG_LEVEL="ERROR")
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def handshakes(server: DaphneServer, tokens: list[str], count: int) -> list[float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        ws = await connect(server.ws_url, token=tokens[i % len(tokens)])
        await asyncio.wait_for(ws.recv(), 10)  # hello
        times.append(time.perf_counter() - start)
        await ws.close()
    return times


async def posts(server: DaphneServer, tokens: list[str], count: int) -> list[float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        status, body = await asyncio.to_thread(
            call,
            f"{server.http_url}/api/news/",
            method="POST",
            body={"title": f"bench {i}"},
            token=tokens[i % len(tokens)],
        )
        times.append(time.perf_counter() - start)
        assert status == 201, (status, body)
    return times


async def sockets_let_in(server: DaphneServer, token: str, tries: int) -> tuple[int, int]:
    """(opened, refused with 4429) for ``tries`` sockets of one token held open together."""
    held, refused = [], 0
    for _ in range(tries):
        ws = await connect(server.ws_url, token=token)
        try:
            await asyncio.wait_for(ws.recv(), 10)
            held.append(ws)
        except Exception as exc:
            refused += getattr(getattr(exc, "rcvd", None), "code", None) == 4429
            await ws.close()
        await asyncio.sleep(0.11)  # under the default 10 handshakes a second of one user
    for ws in held:
        await ws.close()
    return len(held), refused


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--handshakes", type=int, default=300)
    parser.add_argument("--posts", type=int, default=100)
    args = parser.parse_args()
    database_url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-limits-')}/db.sqlite3"
    manage(database_url, "migrate", "--noinput", "-v0")
    tokens = [
        manage(database_url, "issue_token", "--create", f"b{i}-{uuid.uuid4().hex[:6]}").split()[-1]
        for i in range(10)
    ]
    rows = []
    for label, env in (("limits off", {}), ("limits on, counted in Redis", HIGH)):
        server = DaphneServer(
            database_url=database_url,
            redis_url=REDIS_URL,
            layer_prefix=f"bench-limits-{uuid.uuid4().hex[:8]}",
            extra_env={"LOG_LEVEL": "WARNING", **env},
        ).start()
        try:
            await handshakes(server, tokens, 20)  # warm-up
            shakes = await handshakes(server, tokens, args.handshakes)
            published = await posts(server, tokens, args.posts)
        finally:
            server.stop()
        rows.append((label, shakes, published))

    print("| run | handshake p50 | p95 | POST /api/news/ p50 | p95 |")
    print("| --- | --- | --- | --- | --- |")
    for label, shakes, published in rows:
        ms = [1000 * percentile(v, p) for v in (shakes, published) for p in (0.5, 0.95)]
        print(f"| {label} | {ms[0]:.1f} ms | {ms[1]:.1f} ms | {ms[2]:.1f} ms | {ms[3]:.1f} ms |")

    server = DaphneServer(
        database_url=database_url,
        redis_url=REDIS_URL,
        layer_prefix=f"bench-limits-{uuid.uuid4().hex[:8]}",
        extra_env={"LOG_LEVEL": "WARNING", **DEFAULTS},
    ).start()
    try:
        opened, refused = await sockets_let_in(server, tokens[0], 100)
    finally:
        server.stop()
    print(f"\nDefault limits, 100 sockets of one token: {opened} open, {refused} closed with 4429")
    print(f"(handshakes: {args.handshakes} over {len(tokens)} users; median of one run)")


if __name__ == "__main__":
    asyncio.run(main())
