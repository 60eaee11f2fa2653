"""Retention: prune by age and by count per user, in batches, remembering how far."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from note.models import Note, NoteArchive, NoteRead
from note.retention import note_prune, note_pruned_upto
from note.selectors import note_unread_count
from note.services import note_archive, note_create, note_mark_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(n) for n in ("alice", "bob")]


def age(notes, days):
    Note.objects.filter(id__in=[n.id for n in notes]).update(
        created=timezone.now() - timedelta(days=days)
    )


def test_nothing_is_pruned_by_default(users):
    note_create(kind="t", title="kept")
    assert note_prune() == (0, 0)
    assert note_pruned_upto(user=users[0]) == 0


@override_settings(NOTES_RETENTION_DAYS=30)
def test_old_notes_go_in_batches_with_their_per_user_rows(users):
    alice, _ = users
    old = [note_create(kind="t", title=f"old {i}", recipients=[alice])[0] for i in range(5)]
    age(old, 40)
    [new] = note_create(kind="t", title="new", recipients=[alice])
    note_mark_read(user=alice, ids=[old[0].id, new.id])
    note_archive(user=alice, ids=[old[1].id])
    batches = []
    assert note_prune(batch=2, progress=batches.append) == (5, 0)
    assert batches == [2, 4, 5]
    assert list(Note.objects.values_list("id", flat=True)) == [new.id]
    assert not NoteArchive.objects.exists()
    assert list(NoteRead.objects.values_list("note_id", flat=True)) == [new.id]
    assert note_pruned_upto(user=alice) == old[-1].id
    assert note_pruned_upto(user=None) == 0  # only alice's notes went
    assert note_unread_count(user=alice) == 0


@override_settings(NOTES_RETENTION_PER_USER=2)
def test_each_user_keeps_their_newest_private_notes(users):
    alice, bob = users
    mine = [note_create(kind="t", title=f"a{i}", recipients=[alice])[0] for i in range(4)]
    theirs = note_create(kind="t", title="b", recipients=[bob])
    [public] = note_create(kind="t", title="p")
    assert note_prune() == (0, 2)
    left = set(Note.objects.values_list("id", flat=True))
    assert left == {mine[2].id, mine[3].id, theirs[0].id, public.id}


@override_settings(NOTES_RETENTION_PER_USER=1)
def test_a_prune_of_one_users_notes_tells_no_one_else(users):
    alice, bob = users
    [seen_by_bob] = note_create(kind="t", title="public")
    alice_notes = [note_create(kind="t", title=f"a{i}", recipients=[alice])[0] for i in range(3)]
    [bobs] = note_create(kind="t", title="bob's", recipients=[bob])
    assert note_prune() == (0, 2)
    # Bob resuming from before everything lost nothing: he must not be told he did.
    assert note_pruned_upto(user=bob) == 0
    assert note_pruned_upto(user=alice) == alice_notes[1].id
    assert note_pruned_upto(user=None) == 0


def test_public_prunes_tell_everyone_and_a_mark_never_goes_down(users):
    alice, bob = users
    [public] = note_create(kind="t", title="public")
    mine = [note_create(kind="t", title=f"a{i}", recipients=[alice])[0] for i in range(3)]
    assert note_prune(per_user=1) == (0, 2)
    age([public], 40)
    assert note_prune(days=30) == (1, 0)
    assert note_pruned_upto(user=bob) == public.id
    # The age prune saw only the public note: alice's mark stays where the count prune put it.
    assert note_pruned_upto(user=alice) == mine[1].id
    age([mine[2]], 40)
    note_create(kind="t", title="newest", recipients=[alice])
    assert note_prune(days=30) == (1, 0)
    assert note_pruned_upto(user=alice) == mine[2].id


def test_the_command_applies_limits_and_refuses_bad_ones(users, capsys):
    alice, _ = users
    old = note_create(kind="t", title="old", recipients=[alice])
    age(old, 10)
    call_command("prune_notes", "--days", "5")
    assert "pruned 1 notes (1 by age, 0 by count per user)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--days must be 0 or more"):
        call_command("prune_notes", "--days", "-1")
    with pytest.raises(CommandError, match="--batch must be 1 or more"):
        call_command("prune_notes", "--batch", "0")
