"""The workloads A-F of docs/performance.md, each against one running server.

Every workload verifies before it measures (the number of open sockets is
what it should be) and after (every note reached every socket it should,
exactly once, and no other). Latency is receive time minus commit/publish
time, both on the machine's monotonic clock.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.database import BenchUser
from bench.loadgen import ClientSpec, LoadPool
from bench.servers import Server


class Publisher(Protocol):
    def public(self) -> tuple[int, float]: ...
    def to_user(self, user_id: int) -> tuple[int, float]: ...


@dataclass
class Target:
    """A running server and how to reach it."""

    server: Server
    publisher: Publisher
    pool: LoadPool
    users: list[BenchUser]
    ours: bool

    def specs(self, count: int, *, first: int = 0) -> list[ClientSpec]:
        users = [self.users[(first + i) % len(self.users)] for i in range(count)]
        if self.ours:
            return [
                ClientSpec(u.id, "/ws/notes/", {"Authorization": f"Bearer {u.token}"})
                for u in users
            ]
        return [ClientSpec(u.id, f"/ws/notes/?user={u.id}") for u in users]

    def connect(self, count: int, *, batch: int = 50, first: int = 0):
        result = self.pool.connect(
            "127.0.0.1",
            self.server.port,
            self.specs(count, first=first),
            until_synced=self.ours,
            batch=batch,
        )
        status = self.pool.status()
        if status["open"] != count:
            raise BenchError(
                f"{self.server.kind.label}: {status['open']} of {count} sockets open "
                f"(errors: {dict(result.errors)})"
            )
        self.pool.receipts()  # start clean
        return result


class BenchError(RuntimeError):
    pass


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


@dataclass
class Delivery:
    """Receipts checked against what was published."""

    latencies: list[float] = field(default_factory=list)
    last_per_note: list[float] = field(default_factory=list)
    lost: int = 0
    duplicates: int = 0
    misdelivered: int = 0
    out_of_order: int = 0


def check_broadcast(
    receipts: list[tuple[int, list[tuple[int, float]]]], published: dict[int, float]
) -> Delivery:
    out = Delivery()
    last: dict[int, float] = defaultdict(float)
    for _tag, got in receipts:
        seen: set[int] = set()
        previous = 0
        for note_id, when in got:
            if note_id not in published:
                continue  # a note from before this workload (a replayed one)
            if note_id in seen:
                out.duplicates += 1
                continue
            if note_id < previous:
                out.out_of_order += 1
            previous = note_id
            seen.add(note_id)
            latency = when - published[note_id]
            out.latencies.append(latency)
            last[note_id] = max(last[note_id], latency)
        out.lost += len(published) - len(seen)
    out.last_per_note = [last[n] for n in published if n in last]
    return out


# ---------------------------------------------------------------- A broadcast


def broadcast(target: Target, clients: int, notes: int, *, connected: bool = False) -> dict:
    """A: ``notes`` public notes, one at a time, to ``clients`` sockets."""
    if connected:
        open_now = target.pool.status()["open"]
        if open_now != clients:
            raise BenchError(f"{open_now} of {clients} sockets open before broadcasting")
    else:
        target.connect(clients)
    published: dict[int, float] = {}
    cpu_before = target.server.cpu_seconds()
    for _ in range(notes):
        note_id, start = target.publisher.public()
        published[note_id] = start
        if not target.pool.wait_for(note_id, clients, timeout=60):
            break  # counted as lost below
        time.sleep(0.05)
    cpu = target.server.cpu_seconds() - cpu_before
    delivery = check_broadcast(target.pool.receipts(), published)
    status = target.pool.status()
    return {
        "clients": clients,
        "notes": notes,
        "p50_ms": ms(pct(delivery.latencies, 50)),
        "p99_ms": ms(pct(delivery.latencies, 99)),
        "last_ms": ms(statistics.median(delivery.last_per_note or [float("nan")])),
        "last_max_ms": ms(max(delivery.last_per_note or [float("nan")])),
        "server_cpu_ms_per_note": ms(cpu / max(1, len(published))),
        "lost": delivery.lost,
        "duplicates": delivery.duplicates,
        "out_of_order": delivery.out_of_order,
        "dropped_sockets": status.get("lost", 0),
    }


# ---------------------------------------------------------------- B targeted


def targeted(target: Target, users: int, rate: float, seconds: float) -> dict:
    """B: ``rate`` notes per second, each to one random connected user."""
    target.connect(users)
    rng = random.Random(6)
    chosen = target.users[:users]
    published: dict[int, tuple[int, float]] = {}
    start = time.monotonic()
    total = int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        user = rng.choice(chosen).id
        note_id, when = target.publisher.to_user(user)
        published[note_id] = (user, when)
    deadline = time.monotonic() + 15
    while target.pool.total() < total and time.monotonic() < deadline:
        time.sleep(0.1)
    receipts = target.pool.receipts()
    latencies, received = [], defaultdict(int)
    misdelivered = 0
    for tag, got in receipts:
        for note_id, when in got:
            if note_id not in published:
                continue
            user, sent = published[note_id]
            if user != tag:
                misdelivered += 1
                continue
            received[note_id] += 1
            latencies.append(when - sent)
    achieved = total / max(1e-9, (time.monotonic() - start))
    target.pool.close_clients()
    return {
        "users": users,
        "rate": rate,
        "notes": total,
        "p50_ms": ms(pct(latencies, 50)),
        "p99_ms": ms(pct(latencies, 99)),
        "max_ms": ms(max(latencies or [float("nan")])),
        "lost": sum(1 for n in published if received[n] == 0),
        "duplicates": sum(c - 1 for c in received.values() if c > 1),
        "misdelivered": misdelivered,
        "publish_rate": round(min(rate, achieved), 1),
    }


# ---------------------------------------------------------------- C connect storm


def storm(target: Target, clients: int) -> dict:
    """C: ``clients`` sockets opened all at once; then one note must reach them all."""
    result = target.pool.connect(
        "127.0.0.1",
        target.server.port,
        target.specs(clients),
        until_synced=target.ours,
        batch=0,
        timeout=60,
    )
    target.pool.receipts()
    lost = None
    if result.ok:
        note_id, start = target.publisher.public()
        target.pool.wait_for(note_id, result.ok, timeout=30)
        delivery = check_broadcast(target.pool.receipts(), {note_id: start})
        lost = delivery.lost
    target.pool.close_clients()
    times = result.ready_times
    return {
        "clients": clients,
        "connected": result.ok,
        "success_pct": round(100 * result.ok / clients, 1),
        "p50_s": round(pct(times, 50), 2),
        "all_s": round(max(times or [float("nan")]), 2),
        "errors": dict(result.errors.most_common(3)),
        "lost_after": lost,
    }


# ---------------------------------------------------------------- D publishing cost


def publishing(target: Target, user: BenchUser, posts: int, rate: float, clients: int) -> dict:
    """D: ``POST /api/news/`` timings while ``clients`` sockets (already open) get each note."""
    conn = http.client.HTTPConnection("127.0.0.1", target.server.port, timeout=30)
    headers = {"Authorization": f"Bearer {user.token}", "Content-Type": "application/json"}
    timings: list[float] = []
    start = time.monotonic()
    for i in range(posts):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps({"title": f"API news {i}", "content": "posted during the bench"})
        begin = time.monotonic()
        conn.request("POST", "/api/news/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        timings.append(time.monotonic() - begin)
        if response.status != 201:
            raise BenchError(f"POST /api/news/ answered {response.status}")
    conn.close()
    lost = 0
    if clients:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if target.pool.total() >= posts * clients:
                break
            time.sleep(0.1)
        per_client = [len({n for n, _ in got}) for _, got in target.pool.receipts()]
        lost = sum(posts - n for n in per_client)
    return {
        "clients": clients,
        "posts": posts,
        "rate": rate,
        "p50_ms": ms(pct(timings, 50)),
        "p99_ms": ms(pct(timings, 99)),
        "max_ms": ms(max(timings)),
        "lost": lost,
    }


# ---------------------------------------------------------------- E memory


def memory(target: Target, clients: int, baseline: int) -> dict:
    """E: resident memory per idle socket above the process baseline (sockets already open)."""
    time.sleep(2)  # let buffers of the connect phase be released
    rss = target.server.rss_bytes()
    return {
        "clients": clients,
        "baseline_mb": round(baseline / 2**20, 1),
        "with_clients_mb": round(rss / 2**20, 1),
        "per_connection_kb": round((rss - baseline) / clients / 1024, 1),
    }


# ---------------------------------------------------------------- F resume


def resume(target: Target, publisher: Any, missed: int, user: BenchUser, runs: int = 3) -> dict:
    """F: one client resumes ``?after=`` a point ``missed`` notes back: time until ``synced``."""
    from note.selectors import note_last_id

    after = note_last_id()
    publisher.many_public(missed)
    times, lost = [], 0
    for _ in range(runs):
        spec = ClientSpec(
            user.id, f"/ws/notes/?after={after}", {"Authorization": f"Bearer {user.token}"}
        )
        result = target.pool.connect(
            "127.0.0.1", target.server.port, [spec], until_synced=True, batch=0
        )
        if not result.ok:
            raise BenchError(f"resume failed: {dict(result.errors)}")
        times.append(result.ready_times[0])
        (_, got), *_ = [r for r in target.pool.receipts() if r[1]] or [(0, [])]
        ids = [n for n, _ in got]
        lost += missed - len(set(ids) & set(range(after + 1, after + missed + 1)))
        if ids != sorted(ids):
            raise BenchError("replayed notes out of order")
        target.pool.close_clients()
    return {
        "missed": missed,
        "median_ms": ms(statistics.median(times)),
        "best_ms": ms(min(times)),
        "lost": lost,
    }
