"""Delete per user: a private note goes, a public note stays one row for everyone else."""

import pytest

from note.deletion import note_delete
from note.models import Note, NoteArchive, NoteDeleted, NoteRead
from note.selectors import (
    note_list_inbox,
    note_list_visible,
    note_unread_and_last_id,
    note_unread_count,
)
from note.services import note_archive, note_create, note_mark_read, note_mark_unread

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(n) for n in ("alice", "bob")]


def ids(notes):
    return [n.id for n in notes]


def test_a_deleted_private_note_is_gone_from_the_database(users):
    alice, _ = users
    [mine] = note_create(kind="t", title="mine", recipients=[alice])
    note_archive(user=alice, ids=[mine.id])
    note_mark_read(user=alice, ids=[mine.id])

    result = note_delete(user=alice, ids=[mine.id])

    assert result.ids == [mine.id]
    assert not Note.objects.filter(id=mine.id).exists()
    assert not NoteArchive.objects.exists() and not NoteRead.objects.exists()


def test_a_deleted_public_note_is_gone_for_that_user_only_and_stays_one_row(users):
    alice, bob = users
    shared, other = note_create(kind="t", title="shared")[0], note_create(kind="t", title="o")[0]

    result = note_delete(user=alice, ids=[shared.id])

    assert (result.ids, result.unread, result.changed) == ([shared.id], 1, True)
    assert Note.objects.filter(id=shared.id).count() == 1
    assert ids(note_list_visible(user=alice)) == [other.id]
    assert ids(note_list_visible(user=alice, after=0)) == [other.id]  # the replay's listing
    assert ids(note_list_inbox(user=alice)) == [other.id]
    assert ids(note_list_inbox(user=alice, unread=True)) == [other.id]
    assert note_unread_count(user=alice) == 1
    assert note_unread_and_last_id(user=alice)[0] == 1  # the hello's count agrees
    assert ids(note_list_visible(user=bob)) == [other.id, shared.id]
    assert note_unread_count(user=bob) == 2


def test_a_deleted_note_takes_no_more_actions_and_stays_uncounted(users):
    alice, _ = users
    shared = note_create(kind="t", title="shared")[0]
    note_mark_read(user=alice, all=True)
    note_mark_unread(user=alice, ids=[shared.id])
    assert note_unread_count(user=alice) == 1

    note_delete(user=alice, ids=[shared.id])

    assert note_unread_count(user=alice) == 0
    assert note_mark_unread(user=alice, ids=[shared.id]).ids == []
    assert note_archive(user=alice, ids=[shared.id]) == []
    note_mark_read(user=alice, all=True)
    assert note_unread_count(user=alice) == 0
    assert note_delete(user=alice, ids=[shared.id]).ids == []  # once is enough


def test_delete_ignores_notes_the_user_cannot_see(users):
    alice, bob = users
    [theirs] = note_create(kind="t", title="bob's", recipients=[bob])
    result = note_delete(user=alice, ids=[theirs.id, 10**12])
    assert (result.ids, result.changed) == ([], False)
    assert Note.objects.filter(id=theirs.id).exists()
    assert not NoteDeleted.objects.exists()


def test_delete_tells_the_users_other_connections_after_commit(
    users, django_capture_on_commit_callbacks
):
    from note.signals import notes_changed, unread_changed

    alice, _ = users
    [mine] = note_create(kind="t", title="mine", recipients=[alice])
    heard = []

    def on_changed(**kw):
        heard.append(("changed", kw["ids"], kw["change"], kw["origin"]))

    def on_unread(**kw):
        heard.append(("unread", kw["count"], kw["origin"]))

    notes_changed.connect(on_changed)
    unread_changed.connect(on_unread)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            note_delete(user=alice, ids=[mine.id], origin="tab-1")
    finally:
        notes_changed.disconnect(on_changed)
        unread_changed.disconnect(on_unread)
    assert heard == [("unread", 0, "tab-1"), ("changed", [mine.id], {"deleted": True}, "tab-1")]
