"""Ids given at commit (issue 14): no sender waits for another, and every v1 promise stays.

Against real daphne processes on Redis, on PostgreSQL and MariaDB
(``DATABASE_URL``), where notes are written pending and stamped after their
transaction commits (``note.stamping``):

- a transaction that sent a note and stays open holds back no other
  sender's notes: they reach a connected client while it is still open;
- many writers with random transaction lengths and rollbacks, and clients
  connecting and resuming at random points: each client ends with exactly
  the notes visible to it, in increasing order, none twice;
- a sending process killed (SIGKILL) right after its commit, or inside its
  stamp with the sequence locked, loses nothing: the servers' sweep stamps
  its notes and they arrive, once.

On SQLite one writer at a time is the database's own rule, so the first
does not apply there (``docs/architecture.md``, "Ordering"); the others
hold there too and run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import textwrap
import threading
import time
from asyncio.subprocess import PIPE

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings

from note.models import Note
from note.services import note_create
from note.stamping import note_pending_count, stamps_after_commit
from tests.support import ws
from tests.support.data import adb, make_user_with_token

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def pair(start_server, redis_url):
    # The sweep is the only way a dead sender's notes get their ids: a short
    # one keeps the test short. Catch-up stays on (its tick runs the sweep).
    a = start_server(redis_url=redis_url, NOTES_STAMP_SWEEP_SECONDS="0.5")
    b = start_server(redis_url=redis_url, NOTES_STAMP_SWEEP_SECONDS="0.5")
    layer = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [redis_url], "prefix": a.env["CHANNEL_LAYER_PREFIX"]},
    }
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        yield a, b


def last_note_id() -> int:
    return Note.objects.filter(id__gt=0).order_by("-id").values_list("id", flat=True).first() or 0


def stamped_after_commit() -> bool:
    return stamps_after_commit(connection)


def in_thread(fn) -> threading.Thread:
    def run():
        try:
            fn()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.asyncio
async def test_an_open_sending_transaction_holds_back_no_other_senders_notes(pair):
    if not await adb(stamped_after_commit):
        pytest.skip("SQLite has one writer at a time by design (docs/architecture.md)")
    a, b = pair
    user, token = await adb(make_user_with_token, "open")
    sock = await ws.connect(a.ws_url, token=token)
    await ws.handshake(sock)
    opened, release = threading.Event(), threading.Event()

    def slow_sender():
        with transaction.atomic():
            note_create(kind="slow", title="sent, then ten seconds of work")
            opened.set()
            release.wait(10)  # the batch job's or the slow view's other work

    slow = in_thread(slow_sender)
    assert await asyncio.to_thread(opened.wait, 10)
    created: list[Note] = []

    def sender(i: int):
        for j in range(5):
            recipients = [user] if j % 2 else None
            created.extend(note_create(kind="fast", title=f"s{i}-{j}", recipients=recipients))

    senders = [in_thread(lambda i=i: sender(i)) for i in range(3)]
    got = await ws.notes_until(sock, lambda notes: len(notes) >= 15, timeout=9)
    still_open = slow.is_alive() and not release.is_set()
    release.set()
    for thread in [*senders, slow]:
        await asyncio.to_thread(thread.join, 20)
    assert still_open, "the other senders' notes arrived only after the slow one committed"
    # Their ids, from the database: a note stamped by a server's sweep (a slow
    # stamp here, under load) leaves the sender's object with its ticket.
    titles = [n.title for n in created]
    stored = await adb(
        lambda: list(
            Note.objects.filter(title__in=titles).order_by("id").values_list("id", flat=True)
        )
    )
    assert [n["id"] for n in got] == stored and len(stored) == 15
    assert all(n["kind"] == "fast" for n in got)
    (late,) = await ws.notes_until(sock, lambda notes: len(notes) >= 1, timeout=10)
    assert late["kind"] == "slow" and late["id"] == got[-1]["id"] + 1
    assert await ws.quiet(sock, 0.5) == []
    await sock.close()


@pytest.mark.asyncio
async def test_random_writers_and_resuming_clients_each_get_exactly_their_visible_notes(pair):
    """Writers with random transaction lengths and rollbacks; clients that come and go."""
    rng = random.Random(14)
    users = [await adb(make_user_with_token, f"mix{i}") for i in range(3)]
    writers_done = threading.Event()
    committed_titles: set[str] = set()
    errors: list[BaseException] = []

    class Rollback(Exception):
        pass

    def writer(seed: int):
        wrng = random.Random(seed)
        try:
            for i in range(25):
                title = f"w{seed}-{i}"
                parts = wrng.randint(1, 3)
                try:
                    with transaction.atomic():
                        for p in range(parts):
                            target = wrng.choice([None, 0, 1, 2])
                            recipients = None if target is None else [users[target][0]]
                            note_create(kind="mix", title=f"{title}.{p}", recipients=recipients)
                        time.sleep(wrng.random() * 0.05)  # a transaction of random length
                        if wrng.random() < 0.2:
                            raise Rollback
                    committed_titles.update(f"{title}.{p}" for p in range(parts))
                except Rollback:
                    pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    async def client(who: int | None, seed: int) -> tuple[int | None, int, list[int]]:
        """Connect, read, drop, resume after the last id seen, until the writers are done."""
        crng = random.Random(seed)
        await asyncio.sleep(crng.random() * 1.0)
        token = None if who is None else users[who][1]
        server = pair[crng.randint(0, 1)]
        origin = server.http_url if who is None else None
        sock = await ws.connect(server.ws_url, token=token, origin=origin)
        hello, replayed, _ = await ws.handshake(sock)
        start, ids = hello["last_id"], [n["id"] for n in replayed]
        while not writers_done.is_set():
            ids += [f["note"]["id"] for f in await ws.quiet(sock, crng.random() * 0.4)]
            if crng.random() < 0.5:
                await sock.close()
                server = pair[crng.randint(0, 1)]
                after = ids[-1] if ids else start
                sock = await ws.connect(
                    server.ws_url, token=token, after=after, origin=server.http_url
                )
                _, replayed, _ = await ws.handshake(sock)
                ids += [n["id"] for n in replayed]
        user_id = None if who is None else users[who][0].id
        newest = await adb(_newest_visible, user_id)
        if newest > (ids[-1] if ids else start):
            got = await ws.notes_until(sock, lambda notes: notes and notes[-1]["id"] >= newest)
            ids += [n["id"] for n in got]
        ids += [f["note"]["id"] for f in await ws.quiet(sock, 0.5) if f["type"] == "note"]
        await sock.close()
        return user_id, start, ids

    writers = [in_thread(lambda s=s: writer(s)) for s in range(6)]
    clients = [asyncio.create_task(client(rng.choice([None, 0, 1, 2]), seed)) for seed in range(8)]

    def wait_writers():
        for thread in writers:
            thread.join(120)
        writers_done.set()

    await asyncio.to_thread(wait_writers)
    results = await asyncio.gather(*clients)
    assert not errors, errors
    assert committed_titles
    stored = await adb(lambda: set(Note.objects.filter(kind="mix").values_list("title", flat=True)))
    assert stored == committed_titles  # every commit kept, every rollback gone
    assert await adb(note_pending_count) == 0
    for user_id, start, ids in results:
        expected = await adb(_visible_ids_after, user_id, start)
        assert ids == expected, (user_id, start)


def _newest_visible(user_id: int | None) -> int:
    notes = Note.objects.filter(id__gt=0, kind="mix")
    if user_id is None:
        notes = notes.filter(recipient__isnull=True)
    else:
        from django.db.models import Q

        notes = notes.filter(Q(recipient__isnull=True) | Q(recipient_id=user_id))
    return notes.order_by("-id").values_list("id", flat=True).first() or 0


def _visible_ids_after(user_id: int | None, after: int) -> list[int]:
    from django.db.models import Q

    notes = Note.objects.filter(id__gt=after)
    visible = Q(recipient__isnull=True)
    if user_id is not None:
        visible |= Q(recipient_id=user_id)
    return list(notes.filter(visible).order_by("id").values_list("id", flat=True))


SENDER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from note import stamping
    from note.services import note_create

    def killed_here(*args, **kwargs):
        print("now", flush=True)
        time.sleep(120)

    if sys.argv[1] == "after-commit":
        stamping._stamp_robustly = killed_here
    else:  # inside the stamp: notes numbered, the sequence locked, nothing committed
        from django.db import connections
        from django.utils import timezone

        def stamp_then_die(alias):
            with transaction.atomic(using=alias):
                in_function = stamping.has_stamp_function(connections[alias])
                stamp = stamping._stamp_in_function if in_function else stamping._stamp_in_python
                assert stamp(alias, timezone.now())
                killed_here()
        stamping._stamp_page = stamp_then_die
    user = get_user_model().objects.get(pk=int(sys.argv[2]))
    with transaction.atomic():
        note_create(kind="kill", title="public, " + sys.argv[1])
        note_create(kind="kill", title="private, " + sys.argv[1], recipients=[user])
    """
)


@pytest.mark.parametrize("moment", ["after-commit", "inside-stamp"])
@pytest.mark.asyncio
async def test_a_sender_killed_between_commit_and_stamp_loses_nothing(pair, moment):
    if not await adb(stamped_after_commit):
        pytest.skip("SQLite takes ids inside the sending transaction: no stamp to miss")
    a, b = pair
    user, token = await adb(make_user_with_token, "kill")
    start = await adb(last_note_id)
    sock = await ws.connect(b.ws_url, token=token)
    await ws.handshake(sock)
    env = {**a.env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SENDER, moment, str(user.pk), cwd=ROOT, env=env, stdout=PIPE
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.strip() == b"now", line
        assert await adb(last_note_id) == start  # committed (or numbered), not visible yet
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    got = await ws.notes_until(sock, lambda notes: len(notes) >= 2, timeout=20)
    assert [n["title"] for n in got] == [f"public, {moment}", f"private, {moment}"]
    assert [n["id"] for n in got] == [start + 1, start + 2]
    assert await ws.quiet(sock, 2.0) == []  # once: every process sweeps, one stamps
    await sock.close()
    # A client resuming from before the kill replays the same two, nothing else.
    sock = await ws.connect(a.ws_url, token=token, after=start)
    _, replayed, _ = await ws.handshake(sock)
    assert [n["id"] for n in replayed] == [start + 1, start + 2]
    await sock.close()
    assert await adb(note_pending_count) == 0
