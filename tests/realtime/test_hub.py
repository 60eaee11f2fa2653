"""The hub, in-process with Channels' WebsocketCommunicator and the in-memory layer."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from note.services import note_create
from realtime import publisher
from realtime.runtime import stop_runtime
from tests.support.data import adb, make_user_with_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def client(settings):
    from asgi import application

    settings.NOTES_CATCH_UP_SECONDS = 3600  # only the gap can bring lost notes here
    _, token = await adb(make_user_with_token, "hub")
    communicator = WebsocketCommunicator(
        application, "/ws/notes/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert json.loads(await communicator.receive_from(5))["type"] == "hello"
    assert json.loads(await communicator.receive_from(5))["type"] == "synced"
    yield communicator
    await communicator.disconnect()
    await stop_runtime()


async def test_notes_the_layer_lost_are_read_from_the_database_before_the_next(client, monkeypatch):
    # The layer drops two notes (at-most-once delivery, a Redis blip)...
    monkeypatch.setattr(publisher.publisher, "submit", lambda event: None)
    lost = [(await adb(note_create, kind="t", title=f"lost {i}"))[0] for i in range(2)]
    monkeypatch.undo()
    # ...and the next one that does arrive shows the gap.
    kept = (await adb(note_create, kind="t", title="kept"))[0]
    frames = [json.loads(await client.receive_from(5)) for _ in range(3)]
    assert [f["note"]["id"] for f in frames] == [lost[0].id, lost[1].id, kept.id]
    assert await client.receive_nothing(0.2)


async def test_a_duplicate_layer_message_is_not_sent_twice(client):
    note = (await adb(note_create, kind="t", title="once"))[0]
    assert json.loads(await client.receive_from(5))["note"]["id"] == note.id
    publisher.publish_notes([note])  # the same note again, as a retrying publisher might
    assert await client.receive_nothing(0.5)


async def _connect(token: str) -> WebsocketCommunicator:
    from asgi import application

    communicator = WebsocketCommunicator(
        application, "/ws/notes/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    for expected in ("hello", "synced"):
        assert json.loads(await communicator.receive_from(5))["type"] == expected
    return communicator


async def test_a_private_note_reaches_every_socket_of_its_user_and_only_those(settings):
    settings.NOTES_CATCH_UP_SECONDS = 3600
    user, token = await adb(make_user_with_token, "tabs")
    _, other_token = await adb(make_user_with_token, "other")
    try:
        tabs = [await _connect(token) for _ in range(3)]
        other = await _connect(other_token)
        first = (await adb(note_create, kind="t", title="to all tabs", recipients=user))[0]
        for tab in tabs:
            assert json.loads(await tab.receive_from(5))["note"]["id"] == first.id
        assert await other.receive_nothing(0.2)

        # A tab that closes leaves the user's other tabs subscribed, in any order.
        await tabs.pop(1).disconnect()
        second = (await adb(note_create, kind="t", title="to the rest", recipients=user))[0]
        for tab in tabs:
            assert json.loads(await tab.receive_from(5))["note"]["id"] == second.id
        for tab in tabs:
            await tab.disconnect()
        # With none left, the user's next note is delivered to nobody (and nothing breaks).
        await adb(note_create, kind="t", title="to nobody", recipients=user)
        public = (await adb(note_create, kind="t", title="to everyone"))[0]
        assert json.loads(await other.receive_from(5))["note"]["id"] == public.id
        await other.disconnect()
    finally:
        await stop_runtime()


class _Socket:
    """Just what the hub's bookkeeping reads of a connection."""

    def __init__(self, user_id: int | None) -> None:
        self.conn_id = str(id(self))
        self.user_id = user_id
        self.session = None


def test_ten_thousand_sockets_of_one_user_come_and_go_in_linear_time():
    import asyncio
    import time

    from realtime.hub import Hub

    hub = Hub(asyncio.new_event_loop())
    sockets = [_Socket(user_id=7) for _ in range(10_000)]
    began = time.perf_counter()
    for sock in sockets:
        hub.add(sock)
    assert len(hub.user_connections(7)) == 10_000
    for sock in sockets:
        hub.remove(sock)
    took = time.perf_counter() - began
    # Rebuilding a tuple of the user's sockets per change took about a second here.
    assert took < 0.3, took
    assert hub.user_connections(7) == () and hub.empty.is_set()
    hub.loop.close()


def test_a_user_with_one_socket_costs_the_hub_no_collection_of_its_own():
    import asyncio

    from realtime.hub import Hub

    hub = Hub(asyncio.new_event_loop())
    one, two, three = _Socket(user_id=1), _Socket(user_id=2), _Socket(user_id=2)
    for sock in (one, two, three):
        hub.add(sock)
    assert hub.by_user[1] is one  # not a set of one (216 bytes per user)
    hub.remove(three)
    assert hub.by_user[2] is two
    assert hub.user_connections(2) == (two,)
    hub.loop.close()


async def test_no_more_replays_read_the_database_at_once_than_the_setting_allows(
    settings, monkeypatch
):
    import threading
    import time

    from realtime import consumers

    settings.NOTES_CATCH_UP_SECONDS = 3600
    settings.NOTES_REPLAYS_AT_ONCE = 2
    settings.NOTES_DB_USER_SHARE = 8  # one user's six sockets: only the replay slots limit them
    _, token = await adb(make_user_with_token, "replays")
    first = (await adb(note_create, kind="t", title="one"))[0].id
    reading, most = 0, 0
    lock = threading.Lock()
    real_page = consumers._replay_page

    def slow_page(*args):
        nonlocal reading, most
        with lock:
            reading += 1
            most = max(most, reading)
        time.sleep(0.1)
        try:
            return real_page(*args)
        finally:
            with lock:
                reading -= 1

    monkeypatch.setattr(consumers, "_replay_page", slow_page)
    from asgi import application

    try:
        clients = [
            WebsocketCommunicator(
                application,
                f"/ws/notes/?after={first - 1}",
                headers=[(b"authorization", f"Bearer {token}".encode())],
            )
            for _ in range(6)
        ]
        for client in clients:
            assert (await client.connect(timeout=10))[0]
        for client in clients:
            frames = [json.loads(await client.receive_from(10)) for _ in range(3)]
            assert [f["type"] for f in frames] == ["hello", "note", "synced"]
            await client.disconnect()
        assert most == 2
    finally:
        await stop_runtime()


async def test_stop_ends_a_loop_whose_cancel_came_out_as_a_failed_call(settings, monkeypatch):
    import asyncio

    from realtime import hub as hub_module

    settings.NOTES_CATCH_UP_SECONDS = 0.01
    calls = []
    called = asyncio.Event()

    async def sweep_in_a_library(fn, *, within):
        calls.append(fn)
        called.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if len(calls) > 1:
                raise
            # What a client library may do with a cancel that lands inside it.
            raise ConnectionError("connection closed by server") from None

    monkeypatch.setattr(hub_module, "run_in_sweep_thread", sweep_in_a_library)
    hub = hub_module.Hub(asyncio.get_running_loop())
    sweeper = hub.loop.create_task(hub._sweeper())
    hub._tasks = [sweeper]
    await asyncio.wait_for(called.wait(), timeout=5)
    # The loop retries a failed sweep; taking this cancel for one, it would
    # live on and stop() would wait forever.
    stopping = hub.loop.create_task(hub.stop())
    await asyncio.wait([stopping], timeout=5)
    stopped = stopping.done()
    sweeper.cancel()  # ends it either way, for the next test
    await stopping
    assert stopped and len(calls) == 1
