"""The two promises a client relies on, under random and racing load.

- Isolation: each connection receives exactly the notes visible to its user
  (public ones, and its own private ones), whoever created them and whichever
  process the connection is on.
- Resume without gap or duplicate: notes created while a replay runs are
  neither lost between the replay query and the live stream nor sent twice.

Notes are created in this process and published on the servers' Redis and
prefix, exactly as another server process would.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from note.models import Note
from note.services import note_create
from tests.support import ws
from tests.support.data import adb, make_user_with_token

# Larger than any wait below: what arrives came through the layer (or a gap
# catch-up it triggered), not through the periodic database safety net.
LAYER_ONLY = {"NOTES_CATCH_UP_SECONDS": "60"}


@pytest.fixture(scope="module")
def pair(start_server, redis_url):
    a = start_server(redis_url=redis_url, **LAYER_ONLY)
    b = start_server(redis_url=redis_url, **LAYER_ONLY)
    layer = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [redis_url], "prefix": a.env["CHANNEL_LAYER_PREFIX"]},
    }
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        yield a, b


def last_note_id() -> int:
    return Note.objects.order_by("-id").values_list("id", flat=True).first() or 0


def visible_ids(notes: list[Note], user_id: int | None) -> list[int]:
    return [n.id for n in notes if n.recipient_id is None or n.recipient_id == user_id]


async def read_ids(sock, until: int, timeout: float = 20.0) -> list[int]:
    """Note ids on ``sock`` up to and including ``until``, then a short check for extras."""
    ids: list[int] = []
    if until:
        got = await ws.notes_until(sock, lambda notes: notes and notes[-1]["id"] >= until, timeout)
        ids = [n["id"] for n in got]
    ids += [f["note"]["id"] for f in await ws.quiet(sock, 0.3) if f["type"] == "note"]
    return ids


scenarios = st.fixed_dictionaries(
    {
        "users": st.integers(min_value=1, max_value=3),
        # Each note: None = public, i = private to user i (taken modulo the user count).
        "notes": st.lists(st.none() | st.integers(0, 2), min_size=1, max_size=12),
        # Each connection: (user index or None for anonymous, server 0/1, joins late?)
        "connections": st.lists(
            st.tuples(st.none() | st.integers(0, 2), st.integers(0, 1), st.booleans()),
            min_size=1,
            max_size=5,
        ),
    }
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
def test_each_connection_receives_exactly_its_visible_notes(pair, scenario):
    asyncio.run(isolation(pair, scenario))


async def isolation(pair, scenario) -> None:
    users = [(await adb(make_user_with_token, f"iso{i}")) for i in range(scenario["users"])]
    start = await adb(last_note_id)
    socks = []

    async def open_conn(who, server_index):
        server = pair[server_index]
        if who is None:
            sock = await ws.connect(server.ws_url, origin=server.http_url, after=start)
            user_id = None
        else:
            user, token = users[who % len(users)]
            sock = await ws.connect(server.ws_url, token=token, after=start)
            user_id = user.id
        _, replayed, _ = await ws.handshake(sock)
        socks.append((sock, user_id, [n["id"] for n in replayed]))

    early = [c for c in scenario["connections"] if not c[2]]
    late = [c for c in scenario["connections"] if c[2]]
    for who, server_index, _ in early:
        await open_conn(who, server_index)
    created: list[Note] = []
    for target in scenario["notes"]:
        recipients = None if target is None else [users[target % len(users)][0]]
        created += await adb(note_create, kind="iso", title="t", recipients=recipients)
    for who, server_index, _ in late:  # these get the same notes by replay
        await open_conn(who, server_index)

    for sock, user_id, replayed in socks:
        expected = visible_ids(created, user_id)
        pending = expected[-1] if expected and expected[-1] not in replayed else 0
        got = replayed + await read_ids(sock, pending)
        assert got == expected, (user_id, [(n.id, n.recipient_id) for n in created])
        await sock.close()


def create_steadily(count: int, user, done: threading.Event, created: list[Note]) -> None:
    """Notes one after another, every third one private to ``user`` (runs in a thread)."""
    from django.db import connection

    try:
        for i in range(count):
            recipients = [user] if i % 3 == 2 else None
            created += note_create(kind="race", title=f"live {i}", recipients=recipients)
    finally:
        connection.close()
        done.set()


@pytest.mark.asyncio
async def test_notes_created_during_a_replay_arrive_once_and_in_order(pair):
    a, b = pair
    user, token = await adb(make_user_with_token, "race")
    start = await adb(last_note_id)

    def backlog():
        from django.db import transaction

        with transaction.atomic():  # one commit: fast, and one gap for the hubs to read
            return [note_create(kind="race", title=f"old {i}")[0] for i in range(1200)]

    created: list[Note] = await adb(backlog)
    done = threading.Event()
    writer = threading.Thread(target=create_steadily, args=(300, user, done, created))
    writer.start()
    socks = []
    try:
        # Clients join at different moments of the writing, each replaying more
        # than two pages (500 each) while new notes keep committing.
        for i in range(6):
            server = (a, b)[i % 2]
            sock = await ws.connect(server.ws_url, token=token, after=start)
            socks.append(sock)
            await asyncio.sleep(0.15)
    finally:
        await asyncio.to_thread(writer.join)
    assert done.is_set() and len(created) == 1500

    expected = visible_ids(created, user.id)
    for sock in socks:
        _, replayed, synced = await ws.handshake(sock)
        live = await read_ids(sock, expected[-1]) if synced["last_id"] < expected[-1] else []
        got = [n["id"] for n in replayed] + live
        assert got == expected
        await sock.close()
