"""Retention on a large table: ``python -m bench.retention [--database-url URL] [--notes N]``.

Fills a fresh database with N notes (a tenth public, the rest private over
``--users`` users, created evenly over the last 100 days, with some read and
archive rows), starts one daphne on it (Redis layer, ``BENCH_REDIS_URL``),
and runs three phases of the same load: a sender posting news
(``POST /api/news/``, one at a time) and a client resuming from a recent id
(connect with ``?after=`` to ``synced``, one at a time). First with nothing
else running, then while ``note_prune`` deletes by age (``--days``), then
while it prunes each user's private notes down to ``--per-user``. For each
prune it prints the rows deleted, rows/s, the longest batch (one batch is
one transaction: the longest any lock is held), and the load's latency p50
and p99 next to the no-prune phase. ``docs/performance.md`` has the tables.

The database named by ``--database-url`` is emptied first (flush): give it a
private one, e.g. ``postgres://postgres@127.0.0.1:5432/h_inboxfin``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def setup_django(database_url: str) -> None:
    # Not DEBUG: Django would keep every one of a million inserts' SQL in memory.
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "bench-" + "x" * 50),
        LOG_LEVEL="ERROR",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    call_command("flush", "--noinput", verbosity=0)


def fill(notes: int, users: int) -> tuple[list[str], int]:
    """Users (with tokens), notes, some read and archive rows; (tokens, newest id)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from note.models import Note, NoteArchive, NoteRead, NoteSequence
    from note.tokens import token_issue

    user_model = get_user_model()
    tag = uuid.uuid4().hex[:6]
    user_model.objects.bulk_create(
        [user_model(username=f"r{i}-{tag}") for i in range(users)], batch_size=1000
    )
    ids = list(user_model.objects.order_by("pk").values_list("pk", flat=True))
    tokens = [token_issue(user=user_model.objects.get(pk=pk)) for pk in ids[:10]]
    rng = random.Random(16)
    now = timezone.now()
    span = timedelta(days=100).total_seconds()
    chunk = 5000
    started = time.perf_counter()
    for first in range(1, notes + 1, chunk):
        rows = []
        for note_id in range(first, min(notes + 1, first + chunk)):
            public = note_id % 10 == 0
            rows.append(
                Note(
                    id=note_id,
                    kind="bench.public" if public else "bench.private",
                    recipient_id=None if public else rng.choice(ids),
                    title=f"note {note_id}",
                    content="x" * 80,
                    created=now - timedelta(seconds=span * (1 - note_id / notes)),
                )
            )
        with transaction.atomic():
            Note.objects.bulk_create(rows)
            picked = [n for n in rows if n.recipient_id is not None and n.id % 7 == 0]
            NoteRead.objects.bulk_create(
                [NoteRead(user_id=n.recipient_id, note_id=n.id) for n in picked],
                ignore_conflicts=True,
            )
            NoteArchive.objects.bulk_create(
                [NoteArchive(user_id=n.recipient_id, note_id=n.id) for n in picked[::3]],
                ignore_conflicts=True,
            )
    NoteSequence.objects.update_or_create(pk=1, defaults={"last_id": notes, "pruned_upto": 0})
    print(f"filled {notes} notes in {time.perf_counter() - started:.0f} s", flush=True)
    return tokens, notes


class Load:
    """A sender and a resuming client, one request at a time each, until stopped."""

    def __init__(self, server, tokens: list[str], resume_from: int) -> None:
        self.server, self.tokens, self.resume_from = server, tokens, resume_from
        self.sends: list[float] = []
        self.resumes: list[float] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(self._sender(), self._resumer())

    async def _sender(self) -> None:
        from tests.support.http import call

        i = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            status, body = await asyncio.to_thread(
                call,
                f"{self.server.http_url}/api/news/",
                method="POST",
                body={"title": f"bench {i}"},
                token=self.tokens[i % len(self.tokens)],
                timeout=60,
            )
            assert status == 201, (status, body)
            self.sends.append(time.perf_counter() - started)
            i += 1

    async def _resumer(self) -> None:
        from tests.support.ws import connect

        i = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            token = self.tokens[i % len(self.tokens)]
            async with await connect(self.server.ws_url, token=token, after=self.resume_from) as ws:
                while '"synced"' not in await asyncio.wait_for(ws.recv(), 60):
                    pass
            self.resumes.append(time.perf_counter() - started)
            i += 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def phase(server, tokens, resume_from, work=None, seconds: float = 15.0):
    """Run the load alone for ``seconds``, or for as long as ``work`` (in a thread) runs."""
    load = Load(server, tokens, resume_from)
    task = asyncio.create_task(load.run())
    result = None
    if work is None:
        await asyncio.sleep(seconds)
    else:
        result = await asyncio.to_thread(work)
    load.stop.set()
    await task
    return load, result


def prune(**limits):
    """note_prune with a clock on each batch: (deleted, seconds, longest batch in seconds)."""
    from django.db import connection

    from note.retention import note_prune

    marks = [time.perf_counter()]
    started = marks[0]
    result = note_prune(progress=lambda _n: marks.append(time.perf_counter()), **limits)
    elapsed = time.perf_counter() - started
    connection.close()
    longest = max((b - a for a, b in itertools.pairwise(marks)), default=0.0)
    return sum(result), elapsed, longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--notes", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=60, help="prune by age: older than this")
    parser.add_argument("--per-user", type=int, default=200, help="then keep this many each")
    args = parser.parse_args()
    database_url = args.database_url or (
        f"sqlite:///{tempfile.mkdtemp(prefix='bench-retention-')}/db.sqlite3"
    )
    setup_django(database_url)
    tokens, newest = fill(args.notes, args.users)

    from django.db import connection

    connection.close()
    rows = asyncio.run(phases(database_url, tokens, newest, args))
    header = (
        "| phase | rows deleted | seconds | rows/s | longest batch"
        " | send p50 / p99 | resume p50 / p99 |"
    )
    print(f"\n{connection.vendor}, {args.notes} notes, {args.users} users, batches of 1000")
    print(header)
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, result, load in rows:
        ms = [1000 * percentile(v, p) for v in (load.sends, load.resumes) for p in (0.5, 0.99)]
        if result is None:
            pruned = "| - | - | - | - "
        else:
            deleted, seconds, longest = result
            rate = deleted / seconds if seconds else 0
            pruned = f"| {deleted} | {seconds:.1f} | {rate:,.0f} | {1000 * longest:.0f} ms "
        print(
            f"| {label} {pruned}| {ms[0]:.0f} / {ms[1]:.0f} ms ({len(load.sends)}) "
            f"| {ms[2]:.0f} / {ms[3]:.0f} ms ({len(load.resumes)}) |"
        )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


async def phases(database_url: str, tokens: list[str], newest: int, args) -> list[tuple]:
    """The load alone, then during each prune: (label, prune result or None, load)."""
    from tests.support.daphne import DaphneServer

    server = DaphneServer(
        database_url=database_url,
        redis_url=REDIS_URL,
        layer_prefix=f"bench-retention-{uuid.uuid4().hex[:8]}",
        extra_env={"LOG_LEVEL": "WARNING"},
    ).start()
    try:
        resume_from = newest - 2000  # a client a little behind: about 200 notes to replay
        await phase(server, tokens, resume_from, seconds=5)  # warm-up
        load, _ = await phase(server, tokens, resume_from)
        rows = [("no prune", None, load)]
        for label, limits in (
            (f"by age (> {args.days} days)", {"days": args.days}),
            (f"by count ({args.per_user} per user)", {"per_user": args.per_user}),
        ):
            load, result = await phase(
                server, tokens, resume_from, work=lambda limits=limits: prune(**limits)
            )
            rows.append((label, result, load))
    finally:
        server.stop()
    return rows


if __name__ == "__main__":
    main()
