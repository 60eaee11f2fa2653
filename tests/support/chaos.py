"""Chaos: many clients, many notes, and everything that can break, breaking.

Shared by the suite's short run (``tests/e2e/test_chaos.py``) and the long one
(``bench/chaos.py``). Clients resume after every close with ``?after=<last id>``
on a random server, like browsers behind a load balancer. While notes are
created (public and private, in this process, published on the servers' Redis),
the run restarts Redis, kills one server process with SIGKILL and starts it
again, and drops random clients. At the end each client must hold exactly the
notes visible to it, once each, in id order.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import websockets

from tests.support import ws


@dataclass
class Report:
    clients: int = 0
    users: int = 0
    notes: int = 0
    frames: int = 0
    faults: Counter = field(default_factory=Counter)
    reconnects: int = 0
    lost: int = 0
    duplicated: int = 0
    leaked: int = 0
    out_of_order: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.leaked or self.out_of_order)

    def table(self) -> str:
        rows = [
            ("clients (users + anonymous)", f"{self.clients} ({self.users} users)"),
            ("notes created (public and private)", self.notes),
            ("note frames received", self.frames),
            ("faults injected", ", ".join(f"{k} x{v}" for k, v in sorted(self.faults.items()))),
            ("client reconnects", self.reconnects),
            (
                "lost / duplicated / leaked / out of order",
                f"{self.lost} / {self.duplicated} / {self.leaked} / {self.out_of_order}",
            ),
            ("duration", f"{self.seconds:.0f} s"),
        ]
        lines = ["| measure | value |", "| --- | --- |"]
        lines += [f"| {name} | {value} |" for name, value in rows]
        return "\n".join(lines)


class ChaosClient:
    """One subscriber that keeps coming back until it holds its last visible note (``target``)."""

    def __init__(self, servers, *, token: str | None, user_id: int | None, after: int, rng):
        self.servers = servers
        self.token = token
        self.user_id = user_id
        self.ids: list[int] = []
        self.after = after
        self.rng = rng
        self.reconnects = -1
        self.sock = None
        self.target: int | None = None  # its last visible note, once all are created

    @property
    def complete(self) -> bool:
        return self.target is not None and self.after >= self.target

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            server = self.rng.choice(self.servers)
            try:
                self.reconnects += 1
                origin = None if self.token else server.http_url
                self.sock = await ws.connect(
                    server.ws_url, token=self.token, origin=origin, after=self.after, open_timeout=5
                )
                async for raw in self.sock:
                    if '"type":"note"' not in raw[:20]:
                        continue
                    note_id = int(raw.split('"id":', 1)[1].split(",", 1)[0])
                    self.ids.append(note_id)
                    self.after = max(self.after, note_id)
                    if self.complete:
                        return
            except (OSError, websockets.WebSocketException, TimeoutError):
                pass
            finally:
                if self.sock is not None:
                    await self.sock.close()
                    self.sock = None
            if self.complete:
                return
            await asyncio.sleep(self.rng.uniform(0.05, 0.5))

    async def drop(self) -> None:
        """The network blinks: close from the client side; ``run`` resumes."""
        if self.sock is not None:
            await self.sock.close()


async def run_chaos(
    *,
    servers,
    redis,
    users: list[tuple[object, str]],
    create_note,
    last_note_id,
    clients: int,
    notes: int,
    seconds: float,
    seed: int = 1,
    settle: float = 60.0,
) -> Report:
    """Drive the whole scenario; ``create_note(recipient_or_None) -> id`` runs in a thread."""
    rng = random.Random(seed)
    report = Report(clients=clients, users=len(users))
    start_id = await asyncio.to_thread(last_note_id)
    population = []
    for i in range(clients):
        if i % 5 == 4:
            population.append(
                ChaosClient(servers, token=None, user_id=None, after=start_id, rng=rng)
            )
        else:
            user, token = users[i % len(users)]
            population.append(
                ChaosClient(servers, token=token, user_id=user.pk, after=start_id, rng=rng)
            )
    stop = asyncio.Event()
    began = time.monotonic()
    tasks = [asyncio.create_task(c.run(stop)) for c in population]
    await asyncio.sleep(min(5.0, seconds / 10))  # let them connect

    created: list[tuple[int, int | None]] = []
    writer_done = threading.Event()

    def write() -> None:
        pace = seconds / notes
        pick = random.Random(seed + 1)  # its own generator: this runs in a thread
        try:
            for i in range(notes):
                recipient = None if i % 2 == 0 else pick.choice(users)[0]
                created.append((create_note(recipient), getattr(recipient, "pk", None)))
                time.sleep(pace)
        finally:
            from django.db import connection

            connection.close()  # this thread's connection (PostgreSQL drops the test db later)
            writer_done.set()

    writer = asyncio.create_task(asyncio.to_thread(write))
    victim = servers[0]
    plan = [
        (0.20, "redis_stop", redis.stop),
        (0.35, "redis_start", redis.start),
        (0.50, "server_kill", victim.kill),
        (0.65, "server_start", victim.start),
    ]
    t0 = time.monotonic()
    while not writer_done.is_set():
        elapsed = (time.monotonic() - t0) / seconds
        while plan and elapsed >= plan[0][0]:
            _, name, action = plan.pop(0)
            await asyncio.to_thread(action)
            report.faults[name] += 1
        for client in rng.sample(population, max(1, clients // 20)):
            await client.drop()
            report.faults["client_drop"] += 1
        await asyncio.sleep(0.5)
    await writer
    for _, name, action in plan:  # if the writer finished early, finish the plan
        await asyncio.to_thread(action)
        report.faults[name] += 1

    for client in population:
        visible = [i for i, r in created if r is None or r == client.user_id]
        client.target = visible[-1] if visible else start_id
        if client.complete:
            await client.drop()  # already holds everything: let it finish
    done, pending = await asyncio.wait(tasks, timeout=settle)
    stop.set()
    for client in population:
        await client.drop()
    await asyncio.gather(*pending, return_exceptions=True)

    report.notes = len(created)
    report.seconds = time.monotonic() - began
    for client in population:
        expected = [i for i, r in created if r is None or r == client.user_id]
        expected_set = set(expected)
        counts = Counter(client.ids)
        report.frames += len(client.ids)
        report.reconnects += client.reconnects
        report.lost += len(expected_set - counts.keys())
        report.duplicated += sum(n - 1 for n in counts.values() if n > 1)
        report.leaked += sum(1 for i in counts if i not in expected_set)
        report.out_of_order += sum(1 for a, b in itertools.pairwise(client.ids) if b <= a)
    return report
