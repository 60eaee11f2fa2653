"""Soak: ``python bench/soak.py [--clients 1000 --minutes 10 --interval 0.1]``.

One daphne process (Redis layer) holds ``--clients`` connections for
``--minutes`` while a public note is created every ``--interval`` seconds.
Every 15 s it samples the server's resident memory and open file
descriptors; at the end it prints the samples and the slope of each (least
squares, warm-up minute left out) as markdown for ``docs/reliability.md``,
and checks that every client received every note once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE_EVERY = 15.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Client:
    def __init__(self) -> None:
        self.ids: list[int] = []

    async def run(self, url: str, token: str, stop: asyncio.Event) -> None:
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60
        ) as sock:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(sock.recv(), 1.0)
                except TimeoutError:
                    continue
                if raw.startswith('{"type":"note"'):
                    self.ids.append(int(raw.split('"id":', 1)[1].split(",", 1)[0]))


async def soak(args, server, token: str, create_note) -> int:
    stop = asyncio.Event()
    clients = [Client() for _ in range(args.clients)]
    tasks = []
    for i, client in enumerate(clients):
        tasks.append(asyncio.create_task(client.run(server.ws_url, token, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.2)  # a steady ramp, not a storm (bench measures storms)
    await asyncio.sleep(3)
    pid = server.proc.pid
    created: list[int] = []
    writing = threading.Event()
    writing.set()

    def write() -> None:
        next_at = time.monotonic()
        while writing.is_set():
            created.append(create_note())
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    samples = []
    began = time.monotonic()
    while (elapsed := time.monotonic() - began) < args.minutes * 60:
        samples.append((elapsed / 60, rss_mib(pid), open_fds(pid), len(created)))
        print(
            f"  {elapsed / 60:5.1f} min  rss {samples[-1][1]:7.1f} MiB  fds {samples[-1][2]}",
            file=sys.stderr,
        )
        await asyncio.sleep(SAMPLE_EVERY)
    writing.clear()
    writer.join()
    samples.append(((time.monotonic() - began) / 60, rss_mib(pid), open_fds(pid), len(created)))
    await asyncio.sleep(5)  # the last notes reach everyone
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    expected = created
    lost = sum(len(set(expected) - set(c.ids)) for c in clients)
    duplicated = sum(len(c.ids) - len(set(c.ids)) for c in clients)
    steady = [s for s in samples if s[0] >= 1.0] or samples
    rss_slope = statistics.linear_regression([s[0] for s in steady], [s[1] for s in steady]).slope
    fd_slope = statistics.linear_regression([s[0] for s in steady], [s[2] for s in steady]).slope
    print(f"| clients | {args.clients} |\n| --- | --- |")
    print(f"| duration | {samples[-1][0]:.1f} min |")
    print(f"| notes created (one every {args.interval * 1000:.0f} ms) | {len(created)} |")
    print(f"| frames delivered | {sum(len(c.ids) for c in clients)} |")
    print(f"| lost / duplicated | {lost} / {duplicated} |")
    print(f"| server RSS first / last sample | {samples[0][1]:.1f} / {samples[-1][1]:.1f} MiB |")
    print(f"| RSS slope after the first minute | {rss_slope:+.2f} MiB/min |")
    print(f"| open fds first / last sample | {samples[0][2]} / {samples[-1][2]} |")
    print(f"| fd slope after the first minute | {fd_slope:+.2f} /min |")
    return 0 if not lost and not duplicated else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    from bench.standalone import prepare

    database_url, prefix = prepare("soak", redis_url=args.redis_url)
    from note.services import note_create
    from tests.support.daphne import DaphneServer
    from tests.support.data import make_user_with_token

    _, token = make_user_with_token("soak")
    server = DaphneServer(
        database_url=database_url,
        redis_url=args.redis_url,
        layer_prefix=prefix,
        extra_env={"LOG_LEVEL": "WARNING"},
    ).start()

    def create_note() -> int:
        return note_create(kind="soak", title="soak")[0].id

    try:
        return asyncio.run(soak(args, server, token, create_note))
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
