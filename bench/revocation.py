"""``python -m bench.revocation``: what live revocation costs one process's hub.

In-process, against the database of ``DATABASE_URL`` (by default a scratch
SQLite file; it makes and then deletes its own users and log rows):
the hub of ``realtime.hub`` with stand-in sockets (they take a note and
count it), so the table shows the hub's own work and its database reads,
not the network. Prints a table for docs/performance.md ("Revocation").

- private notes: each to one of N connected users, over the layer's path
  (``Hub.handle``), with the read of credential changes before each (as
  shipped) and without it (that read switched off): the price of "no
  private note after a revocation has committed";
- the periodic read of credential changes with R recent rows in the log;
- re-checking one user's S token sockets after a change.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid

USERS = 500
ROUNDS = 5


class StandIn:
    """What the hub needs of a socket (``realtime.hub.Subscriber``), counting notes."""

    def __init__(self, user_id: int, credential) -> None:
        self.conn_id = uuid.uuid4().hex[:12]
        self.user_id = user_id
        self.session = None
        self.credential = credential
        self.notes = 0
        self.revoked = False

    def hub_note(self, payload, note_frames):
        self.notes += 1
        return None

    async def hub_unread(self, count: int) -> None:
        pass

    async def hub_close(self, code: int, reason: str) -> None:
        pass

    def hub_dropped(self, error: BaseException) -> None:
        pass

    async def hub_revoked(self) -> None:
        self.revoked = True


def setup() -> None:
    os.environ.setdefault(
        "DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench-revocation.sqlite3"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_users(count: int, tag: str):
    from django.contrib.auth import get_user_model

    from note.credentials import Credential
    from note.models import ApiToken
    from note.tokens import token_issue

    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bench-rev-{tag}-{i}") for i in range(count)])
    users = list(User.objects.filter(username__startswith=f"bench-rev-{tag}-").order_by("pk"))
    for user in users:
        token_issue(user=user)
    tokens = {t.user_id: t for t in ApiToken.objects.filter(user__in=users)}
    return [(user.pk, Credential.of_token(tokens[user.pk])) for user in users]


def payloads(first_id: int, user_ids: list[int]) -> list[dict]:
    return [
        {
            "id": first_id + i,
            "kind": "bench",
            "title": "a private note",
            "title_template": "",
            "title_params": {},
            "content": "",
            "url": "",
            "actor": None,
            "recipient_id": user_id,
            "created": "2026-12-03T00:00:00.000Z",
        }
        for i, user_id in enumerate(user_ids)
    ]


async def private_notes(sockets, *, check: bool) -> float:
    """Seconds per private note through ``Hub.handle``."""
    from realtime import events
    from realtime.hub import Hub

    hub = Hub(asyncio.get_running_loop())
    for sock in sockets:
        hub.add(sock)
    hub.last_id = 10**12
    batch = payloads(hub.last_id + 1, [s.user_id for s in sockets])
    started = time.perf_counter()
    for payload in batch:
        if not check:
            hub._changes_read_at = float("inf")
        await hub.handle(events.note_event(payload, committed_at=time.time()))
    elapsed = time.perf_counter() - started
    assert all(s.notes == 1 for s in sockets)
    for sock in sockets:
        sock.notes = 0
    return elapsed / len(batch)


async def burst_through_layer(sockets, *, check: bool) -> float:
    """Seconds per private note when all of them are sent to the layer at once."""
    from realtime import events
    from realtime.hub import Hub
    from realtime.layer import notes_layer

    hub = Hub(asyncio.get_running_loop())
    await hub.start()
    try:
        await asyncio.wait_for(hub._subscribed.wait(), 10)
        if not check:

            async def no_read() -> None:
                hub._changes_read_at = float("inf")

            hub._read_credential_changes = no_read
        for sock in sockets:
            hub.add(sock)
        batch = payloads(hub.last_id + 1, [s.user_id for s in sockets])
        layer = notes_layer()
        started = time.perf_counter()
        for payload in batch:
            await layer.group_send(
                events.GROUP, events.note_event(payload, committed_at=time.time())
            )
        while any(s.notes == 0 for s in sockets):  # noqa: ASYNC110  (stand-ins only count)
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
    finally:
        await hub.stop()
    for sock in sockets:
        sock.notes = 0
    return elapsed / len(batch)


async def periodic_read() -> float:
    from note.credentials import credential_changes_since
    from realtime.db import run_in_hub_thread

    times = []
    for _ in range(50):
        started = time.perf_counter()
        await run_in_hub_thread(credential_changes_since, seen=set(), within=5)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def recheck(sockets) -> float:
    from realtime.hub import Hub

    hub = Hub(asyncio.get_running_loop())
    for sock in sockets:
        hub.add(sock)
    key = str(sockets[0].user_id)
    times = []
    for _ in range(20):
        started = time.perf_counter()
        async with hub._lock:
            await hub._recheck_user(key)
        times.append(time.perf_counter() - started)
    assert not any(s.revoked for s in sockets)
    return statistics.median(times)


async def main_async() -> list[tuple[str, str]]:
    from asgiref.sync import sync_to_async

    from note.models import CredentialChange

    tag = uuid.uuid4().hex[:6]
    users = await sync_to_async(make_users)(USERS, tag)
    sockets = [StandIn(pk, credential) for pk, credential in users]
    rows = []
    with_check = statistics.median(
        [await private_notes(sockets, check=True) for _ in range(ROUNDS)]
    )
    without = statistics.median([await private_notes(sockets, check=False) for _ in range(ROUNDS)])
    rows.append(
        ("private note through the hub, with the changes read first", f"{with_check * 1e6:.0f} µs")
    )
    rows.append(("private note through the hub, read switched off", f"{without * 1e6:.0f} µs"))
    burst = statistics.median(
        [await burst_through_layer(sockets, check=True) for _ in range(ROUNDS)]
    )
    burst_without = statistics.median(
        [await burst_through_layer(sockets, check=False) for _ in range(ROUNDS)]
    )
    rows.append(
        (f"burst of {USERS} private notes over the layer, per note", f"{burst * 1e6:.0f} µs")
    )
    rows.append(("the same burst, read switched off, per note", f"{burst_without * 1e6:.0f} µs"))
    mine = CredentialChange.objects.filter(user_key__startswith=f"bench-{tag}-")
    rows.append(
        ("periodic read of the changes, no recent rows", f"{await periodic_read() * 1e3:.2f} ms")
    )
    await sync_to_async(
        lambda: CredentialChange.objects.bulk_create(
            [CredentialChange(user_key=f"bench-{tag}-{i}") for i in range(1000)]
        )
    )()
    rows.append(
        ("periodic read of the changes, 1,000 recent rows", f"{await periodic_read() * 1e3:.2f} ms")
    )
    await sync_to_async(mine.delete)()
    one_user, credential = users[0]
    for count in (1, 100):
        same_user = [StandIn(one_user, credential) for _ in range(count)]
        rows.append(
            (
                f"re-check one user's {count} token socket(s)",
                f"{await recheck(same_user) * 1e3:.2f} ms",
            )
        )
    await sync_to_async(cleanup)(tag, [pk for pk, _ in users])
    return rows


def cleanup(tag: str, user_ids: list[int]) -> None:
    from django.contrib.auth import get_user_model

    from note.models import CredentialChange

    get_user_model().objects.filter(pk__in=user_ids).delete()
    CredentialChange.objects.filter(user_key__in=[str(pk) for pk in user_ids]).delete()


def main() -> int:
    setup()
    logging.getLogger("realtime").setLevel(logging.WARNING)
    from django.db import connection

    rows = asyncio.run(main_async())
    print(f"database: {connection.vendor}; {USERS} users, one socket each; median of runs")
    print()
    print("| what | time |")
    print("| --- | --- |")
    for what, value in rows:
        print(f"| {what} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
