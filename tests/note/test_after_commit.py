"""Notes reach the channel layer only after commit; a rollback pushes nothing.

Observed on the real Redis: the test subscribes to the Redis channel that the
pub/sub channel layer publishes the notes stream on.
"""

import msgpack
import pytest
import redis
from django.db import transaction

from note.services import note_create
from realtime import events as layer_events
from realtime.publisher import publisher

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_layer(settings, redis_url, layer_prefix):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": layer_prefix},
        }
    }
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"{layer_prefix}__group__{layer_events.GROUP}")
    yield pubsub
    pubsub.close()
    client.close()


def published(pubsub, wait: float) -> list[dict]:
    publisher.flush(timeout=5)
    events = []
    while (message := pubsub.get_message(timeout=wait)) is not None:
        events.append(msgpack.unpackb(message["data"]))
    return events


def test_rolled_back_note_is_never_published(redis_layer):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        note_create(kind="t", title="never")
        raise Abort
    assert published(redis_layer, wait=0.5) == []


def test_committed_note_is_published_once_after_commit(redis_layer):
    with transaction.atomic():
        note = note_create(kind="t", title="yes")[0]
        assert published(redis_layer, wait=0.3) == []  # not before commit
    events = published(redis_layer, wait=2.0)
    assert len(events) == 1
    assert events[0]["type"] == layer_events.NOTE
    assert events[0]["note"]["id"] == note.id
    assert events[0]["note"]["title"] == "yes"
