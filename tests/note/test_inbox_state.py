"""Mark unread, archive and the inbox listing: per user, rows only for users who acted."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from note.models import NoteArchive, NoteUnread
from note.selectors import note_archived_ids, note_list_inbox, note_read_ids, note_unread_count
from note.services import note_archive, note_create, note_mark_read, note_mark_unread

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(n) for n in ("alice", "bob")]


def test_mark_unread_above_and_below_the_watermark(users):
    alice, bob = users
    a, b = (note_create(kind="t", title=t)[0] for t in "ab")
    note_mark_read(user=alice, all=True)  # a and b under the watermark
    c = note_create(kind="t", title="c")[0]
    note_mark_read(user=alice, ids=[c.id])  # c read above it
    assert note_unread_count(user=alice) == 0

    result = note_mark_unread(user=alice, ids=[a.id, c.id])
    assert (result.unread, result.changed, result.ids) == (2, True, [a.id, c.id])
    assert note_read_ids(user=alice, notes=[a, b, c]) == {b.id}
    assert note_unread_count(user=bob) == 3  # bob's state is his own
    assert note_mark_unread(user=alice, ids=[a.id]).changed is False  # already unread

    note_mark_read(user=alice, ids=[a.id])
    assert note_read_ids(user=alice, notes=[a, b, c]) == {a.id, b.id}
    note_mark_unread(user=alice, ids=[b.id])
    note_mark_read(user=alice, all=True)
    assert note_unread_count(user=alice) == 0
    assert not NoteUnread.objects.exists()  # raising the watermark clears the exceptions


def test_mark_unread_ignores_notes_the_user_cannot_see(users):
    alice, bob = users
    [theirs] = note_create(kind="t", title="bob's", recipients=[bob])
    note_mark_read(user=bob, all=True)
    assert note_mark_unread(user=alice, ids=[theirs.id, 999]).ids == []
    assert note_unread_count(user=bob) == 0


def test_archive_is_per_user_and_a_public_note_stays_one_row(users):
    alice, bob = users
    [public] = note_create(kind="t", title="p")
    assert note_archive(user=alice, ids=[public.id]) == [public.id]
    assert note_archive(user=alice, ids=[public.id]) == []  # nothing changed
    assert note_archived_ids(user=alice, notes=[public]) == {public.id}
    assert note_archived_ids(user=bob, notes=[public]) == set()
    assert NoteArchive.objects.count() == 1
    assert note_list_inbox(user=alice, archived=False) == []
    assert note_list_inbox(user=bob, archived=False) == [public]
    assert note_archive(user=alice, ids=[public.id], archived=False) == [public.id]
    assert note_list_inbox(user=alice, archived=False) == [public]


def test_the_inbox_filters_and_pages_by_id(users):
    alice, _ = users
    notes = [note_create(kind=k, title=k, recipients=[alice])[0] for k in "abab"]
    note_mark_read(user=alice, ids=[notes[3].id])
    assert note_list_inbox(user=alice, kinds=["a"]) == [notes[2], notes[0]]
    assert note_list_inbox(user=alice, unread=True) == [notes[2], notes[1], notes[0]]
    assert note_list_inbox(user=alice, unread=False) == [notes[3]]
    page = note_list_inbox(user=alice, limit=2)
    assert page == [notes[3], notes[2]]
    assert note_list_inbox(user=alice, limit=2, before=page[-1].id) == [notes[1], notes[0]]


def test_a_deep_page_is_one_query_without_offset(users):
    alice, _ = users
    for i in range(5):
        note_create(kind="t", title=str(i), recipients=[alice])
    with CaptureQueriesContext(connection) as queries:
        note_list_inbox(user=alice, before=3, limit=2, archived=False, kinds=["t"])
    assert len(queries) == 1
    assert "OFFSET" not in queries[0]["sql"].upper()
