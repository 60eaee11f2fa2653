"""The resume's page in one statement agrees with the separate selectors, and the
queries of a connect, a replay page and the writes that report a count stay few."""

from datetime import timedelta

import pytest
from django.utils import timezone

from note.deletion import note_delete
from note.models import Note
from note.preferences import note_preferences_set
from note.retention import note_prune, note_pruned_upto
from note.selectors import (
    note_archived_ids,
    note_list_visible,
    note_read_ids,
    note_replay_page,
    note_unread_count,
    note_unread_now,
)
from note.services import note_archive, note_create, note_mark_read, note_mark_unread
from realtime.consumers import _hello_facts

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    old = note_create(kind="t", title="before alice joined")[0]
    Note.objects.filter(id=old.id).update(created=timezone.now() - timedelta(days=1))
    return django_user_model.objects.create_user("alice")


def mixed_state(user):
    notes = [note_create(kind="t", title=f"p{i}")[0] for i in range(4)]
    notes += [note_create(kind="t", title=f"m{i}", recipients=[user])[0] for i in range(4)]
    note_mark_read(user=user, ids=[notes[1].id])
    note_mark_read(user=user, all=True)
    later = [note_create(kind="t", title=f"l{i}", recipients=[user])[0] for i in range(4)]
    note_mark_unread(user=user, ids=[notes[0].id, notes[5].id])
    note_mark_read(user=user, ids=[later[1].id, later[2].id])
    note_archive(user=user, ids=[notes[2].id, later[2].id])
    note_delete(user=user, ids=[notes[3].id, later[3].id])
    return notes + later


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_a_replay_page_agrees_with_the_separate_selectors(alice, limit):
    mixed_state(alice)
    after, seen = 0, []
    while True:
        page = note_replay_page(user=alice, after=after, limit=limit)
        expected = note_list_visible(user=alice, after=after, limit=limit)
        assert [n.id for n in page.notes] == [n.id for n in expected]
        assert page.read_ids == note_read_ids(user=alice, notes=expected)
        assert page.archived_ids == note_archived_ids(user=alice, notes=expected)
        seen += page.notes
        if page.pruned_upto is not None:
            assert len(page.notes) < limit
            break
        assert len(page.notes) == limit
        after = page.notes[-1].id
    assert len(seen) == 11  # 1 from before joining + 12 - 2 deleted


def test_an_anonymous_replay_page_is_public_and_unread(alice):
    mixed_state(alice)
    page = note_replay_page(user=None, after=0, limit=100)
    assert all(n.recipient_id is None for n in page.notes)
    assert len(page.notes) == 5 and page.read_ids == set() == page.archived_ids


def test_the_last_page_carries_the_users_prune_marks(alice, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    for i in range(3):
        note_create(kind="t", title=f"b{i}", recipients=[bob])
    mine = note_create(kind="t", title="mine", recipients=[alice])[0]
    note_prune(per_user=1)
    assert note_replay_page(user=alice, after=0, limit=100).pruned_upto == 0
    assert note_replay_page(user=bob, after=0, limit=100).pruned_upto == note_pruned_upto(user=bob)
    assert note_replay_page(user=alice, after=mine.id, limit=100).pruned_upto == 0


def test_the_unread_count_in_one_statement_agrees_with_the_orm(alice):
    mixed_state(alice)
    note_preferences_set(user=alice, mute=["x"])
    note_create(kind="x", title="muted", recipients=[alice])
    assert note_unread_now(user=alice) == note_unread_count(user=alice)


def test_the_queries_of_a_resume_and_of_the_writes_stay_few(
    alice, django_assert_max_num_queries, django_assert_num_queries
):
    notes = mixed_state(alice)
    # A connect's one hop: preferences, then the count and the newest id.
    with django_assert_max_num_queries(2):
        _hello_facts(alice, None, None)
    # A replay page with its read and archived state (and, the last, the prune marks).
    with django_assert_num_queries(1):
        note_replay_page(user=alice, after=0, limit=100)
    with django_assert_num_queries(1):
        note_replay_page(user=alice, after=0, limit=2)
    with django_assert_num_queries(2):  # an empty last page asks the marks on their own
        note_replay_page(user=alice, after=notes[-1].id, limit=100)
    # Writes (each with its savepoint and release): mark_read was 15 before this (12
    # before issue 16); reading an unread-again note read costs its row's delete.
    with django_assert_max_num_queries(10):
        note_mark_read(user=alice, ids=[notes[0].id, notes[8].id])
    with django_assert_max_num_queries(9):
        note_mark_unread(user=alice, ids=[notes[0].id])
    with django_assert_max_num_queries(10):
        note_mark_read(user=alice, all=True)
    # A private note goes through Django's cascade (a host's own references to it too).
    with django_assert_max_num_queries(16):
        note_delete(user=alice, ids=[notes[2].id, notes[9].id])
