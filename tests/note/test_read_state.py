"""Read state per user: a watermark plus single reads, never a row per user per public note."""

from datetime import timedelta

import pytest
from django.utils import timezone

from note.models import NoteRead, NoteReadState
from note.selectors import note_list_visible, note_read_ids, note_unread_count
from note.services import note_create, note_mark_read

pytestmark = pytest.mark.django_db


def test_public_notes_older_than_the_account_are_not_unread(django_user_model):
    from note.models import Note

    old = note_create(kind="t", title="before you came")[0]
    Note.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=1))
    alice = django_user_model.objects.create_user("alice")
    new = note_create(kind="t", title="after you came")[0]
    assert note_unread_count(user=alice) == 1
    assert note_read_ids(user=alice, notes=[old, new]) == {old.id}


def test_unread_counts_are_per_user(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    alice.date_joined = bob.date_joined = timezone.now() - timedelta(days=1)
    alice.save(), bob.save()
    notes = [note_create(kind="t", title=f"n{i}")[0] for i in range(3)]
    note_create(kind="t", title="to bob", recipients=[bob])

    result = note_mark_read(user=alice, ids=[notes[0].id])
    assert result[:2] == (2, True)
    assert note_unread_count(user=alice) == 2
    assert note_unread_count(user=bob) == 4


def test_mark_read_ignores_ids_that_are_not_the_callers(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    to_bob = note_create(kind="t", title="to bob", recipients=[bob])[0]
    result = note_mark_read(user=alice, ids=[to_bob.id, 999_999])
    assert result.changed is False
    assert NoteRead.objects.count() == 0
    assert note_unread_count(user=bob) == 1


def test_mark_all_read_is_one_watermark_row(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    alice.date_joined = timezone.now() - timedelta(days=1)
    alice.save()
    for i in range(50):
        note_create(kind="t", title=f"n{i}")
    note_mark_read(user=alice, ids=[note_list_visible(user=alice, limit=1)[0].id])
    assert NoteRead.objects.count() == 1

    assert note_mark_read(user=alice, all=True)[:2] == (0, True)
    assert NoteReadState.objects.count() == 1
    assert NoteRead.objects.count() == 0
    newer = note_create(kind="t", title="newer")[0]
    assert note_unread_count(user=alice) == 1
    assert newer.id not in note_read_ids(user=alice, notes=[newer])


def test_marking_twice_changes_nothing_the_second_time(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    alice.date_joined = timezone.now() - timedelta(days=1)
    alice.save()
    note = note_create(kind="t", title="n")[0]
    assert note_mark_read(user=alice, ids=[note.id])[:2] == (0, True)
    assert note_mark_read(user=alice, ids=[note.id])[:2] == (0, False)
    assert note_mark_read(user=alice, all=True)[:2] == (0, False)


def test_unread_up_to_an_id_counts_only_notes_up_to_it(django_user_model):
    """The hello frame's count agrees with its last_id: later notes come live."""
    alice = django_user_model.objects.create_user("alice")
    alice.date_joined = timezone.now() - timedelta(days=1)
    alice.save()
    first, second, _third = (note_create(kind="t", title=f"n{i}")[0] for i in range(3))
    note_mark_read(user=alice, ids=[second.id])
    assert note_unread_count(user=alice) == 2
    assert note_unread_count(user=alice, upto_id=second.id) == 1
    assert note_unread_count(user=alice, upto_id=first.id - 1) == 0


@pytest.mark.django_db(transaction=True)
def test_first_reads_of_one_user_from_several_connections_at_once(django_user_model):
    """Tabs that mark read at once, each creating the user's read state: one wins, none fails.

    On InnoDB, a losing INSERT keeps a shared lock on the winner's row, and two
    losers that then lock it for update deadlock (note.services._insert_unless_present).
    """
    import threading

    from django.db import connections

    tabs, rounds = 4, 8
    note_create(kind="t", title="n")
    errors: list[BaseException] = []
    for r in range(rounds):
        user = django_user_model.objects.create_user(f"u{r}")
        user.date_joined = timezone.now() - timedelta(days=1)
        user.save()
        start = threading.Barrier(tabs)

        def tab(user=user, start=start):
            try:
                start.wait(10)
                note_mark_read(user=user, all=True)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=tab) for _ in range(tabs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        assert NoteReadState.objects.filter(user=user).count() == 1
        assert note_unread_count(user=user) == 0
