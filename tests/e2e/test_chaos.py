"""The short chaos run (the long one is ``bench/chaos.py``): nothing lost, twice or leaked."""

from __future__ import annotations

import pytest
from django.test import override_settings

from note.models import Note
from note.services import note_create
from tests.support.chaos import run_chaos
from tests.support.data import adb, make_user_with_token
from tests.support.services import RedisServer

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def redis():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def create_note(recipient) -> int:
    recipients = None if recipient is None else [recipient]
    return note_create(kind="chaos", title="chaos", recipients=recipients)[0].id


def last_note_id() -> int:
    return Note.objects.order_by("-id").values_list("id", flat=True).first() or 0


async def test_clients_hold_exactly_their_visible_notes_through_chaos(start_server, redis):
    servers = [start_server(redis_url=redis.url), start_server(redis_url=redis.url)]
    users = [await adb(make_user_with_token, f"chaos{i}") for i in range(6)]
    layer = {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [redis.url], "prefix": servers[0].env["CHANNEL_LAYER_PREFIX"]},
    }
    with override_settings(CHANNEL_LAYERS={"default": layer}):
        report = await run_chaos(
            servers=servers,
            redis=redis,
            users=users,
            create_note=create_note,
            last_note_id=last_note_id,
            clients=60,
            notes=400,
            seconds=20,
        )
    print(report.table())
    assert report.faults["server_kill"] == 1 and report.faults["redis_stop"] == 1
    assert report.reconnects > 0
    assert report.clean, report.table()
