"""The publisher's queue when the layer fails: kept in order, retried, bounded."""

import asyncio

import pytest

from realtime import events
from realtime import publisher as publisher_module
from realtime.publisher import Publisher

pytestmark = pytest.mark.asyncio


class FlakyLayer:
    """Refuses the first ``failures`` sends, then takes every one."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[dict] = []

    async def group_send(self, group: str, event: dict) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("layer down")
        self.sent.append(event)


async def test_events_a_failing_layer_refused_are_sent_later_in_order(monkeypatch):
    layer = FlakyLayer(failures=3)
    monkeypatch.setattr(publisher_module, "notes_layer", lambda: layer)
    monkeypatch.setattr(publisher_module, "RETRY_FIRST", 0.01)
    sender = Publisher()
    sender.bind(asyncio.get_running_loop())
    submitted = [
        events.logout_event(session_key="s1"),
        events.unread_event(user_id=1, count=2),
        events.logout_event(session_key="s2"),
    ]
    for event in submitted:
        sender.submit(event)
    assert await asyncio.to_thread(sender.flush, 5)
    assert layer.sent == submitted


async def test_a_full_queue_makes_room_by_dropping_a_note_not_a_logout(monkeypatch):
    layer = FlakyLayer(failures=10**6)
    monkeypatch.setattr(publisher_module, "notes_layer", lambda: layer)
    monkeypatch.setattr(publisher_module, "QUEUE_LIMIT", 3)
    sender = Publisher()
    sender.bind(asyncio.get_running_loop())
    note = {"type": events.NOTE, "note": {"id": 1}, "committed_at": 0}
    for event in (events.logout_event(session_key="a"), note, dict(note)):
        sender.submit(event)
    sender.submit(events.logout_event(session_key="b"))
    await asyncio.sleep(0.05)
    kept = [e["type"] for e in sender._queue.events]
    assert kept == [events.LOGOUT, events.NOTE, events.LOGOUT]
