"""Pending notes and their stamp (issue 14), on PostgreSQL and MariaDB (``DATABASE_URL``).

A note committed but not yet stamped is no one's: no list, count, replay or
``hello`` shows it. The stamp numbers every committed pending note at once;
one whose sender died before stamping is stamped by the sweep or by
``manage.py stamp_pending_notes``. On SQLite ids are taken inside the sending
transaction (there is no pending state), so these do not apply there.
"""

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from note import stamping
from note.models import Note, NoteSequence
from note.selectors import (
    note_last_id,
    note_list_after,
    note_list_visible,
    note_unread_and_last_id,
    note_unread_count,
)
from note.services import note_create, note_mark_read
from note.signals import notes_committed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def only_where_stamped_after_commit():
    if not stamping.stamps_after_commit(connection):
        pytest.skip(f"{connection.vendor} takes note ids inside the sending transaction")


@pytest.fixture
def sent(request):
    """Every note ``notes_committed`` carried, in order."""
    notes: list[Note] = []

    def receive(sender, **kwargs):
        notes.extend(kwargs["notes"])

    notes_committed.connect(receive, dispatch_uid="test_stamping", weak=False)
    request.addfinalizer(lambda: notes_committed.disconnect(dispatch_uid="test_stamping"))
    return notes


@pytest.fixture
def sender_dies_before_its_stamp(monkeypatch):
    """As if the sending process were killed right after its commit."""
    monkeypatch.setattr(stamping, "_stamp_robustly", lambda using: None)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def test_a_pending_note_is_no_ones(alice, sender_dies_before_its_stamp, sent):
    note_create(kind="t", title="public")
    note_create(kind="t", title="private", recipients=alice)
    assert stamping.note_pending_count() == 2
    assert note_list_visible(user=alice) == [] and note_list_visible(user=None) == []
    assert note_list_after(after=0) == []
    assert note_last_id() == 0
    assert note_unread_count(user=alice) == 0
    assert note_unread_and_last_id(user=alice) == (0, 0)
    assert note_mark_read(user=alice, all=True).unread == 0
    assert sent == []


def test_the_sweep_stamps_and_sends_what_a_dead_sender_left(
    alice, sender_dies_before_its_stamp, sent, settings
):
    settings.NOTES_STAMP_SWEEP_SECONDS = 3600
    note_create(kind="t", title="public")
    note_create(kind="t", title="private", recipients=alice)
    assert stamping.note_sweep_pending() == []  # not pending for long enough yet
    settings.NOTES_STAMP_SWEEP_SECONDS = 0.001
    stamped = stamping.note_sweep_pending()
    assert [(n.id, n.title) for n in stamped] == [(1, "public"), (2, "private")]
    assert [n.id for n in sent] == [1, 2]  # sent once, after the stamp committed
    assert [n.title for n in note_list_visible(user=alice)] == ["private", "public"]
    assert stamping.note_sweep_pending() == [] and [n.id for n in sent] == [1, 2]


def test_the_command_stamps_on_a_site_without_a_server(sender_dies_before_its_stamp, capsys):
    note_create(kind="t", title="left behind")
    call_command("stamp_pending_notes", "--all")
    assert "stamped 1 notes; 0 still pending" in capsys.readouterr().out
    assert [n.title for n in note_list_visible(user=None)] == ["left behind"]


def test_one_stamp_numbers_every_committed_sender_in_ticket_order(
    alice, sender_dies_before_its_stamp, sent
):
    first = note_create(kind="t", title="to many", recipients=[alice, alice])
    bob = alice.__class__.objects.create_user("bob")
    second = note_create(kind="t", title="to two", recipients=[alice, bob])
    third = note_create(kind="t", title="public")
    stamped = stamping.note_stamp_pending()
    assert [n.id for n in stamped] == [1, 2, 3, 4]
    # The senders in this process learn their ids, whoever stamped them.
    assert [n.id for n in first + second + third] == [1, 2, 3, 4]
    assert [(n.title, n.recipient_id) for n in stamped] == [
        ("to many", alice.pk),
        ("to two", alice.pk),
        ("to two", bob.pk),
        ("public", None),
    ]
    assert NoteSequence.objects.get(pk=1).last_id == 4


def test_a_rolled_back_sender_leaves_nothing_to_stamp(sent):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        note_create(kind="t", title="never")
        raise Abort
    (kept,) = note_create(kind="t", title="kept")
    assert kept.id == 1 and [n.id for n in sent] == [1]
    assert stamping.note_pending_count() == 0


def test_a_public_note_is_still_one_row(django_user_model):
    for i in range(5):
        django_user_model.objects.create_user(f"u{i}")
    note_create(kind="t", title="for everyone")
    assert Note.objects.count() == 1
    user = django_user_model.objects.get(username="u3")
    assert note_mark_read(user=user, all=True)[:2] == (0, True)
    assert Note.objects.count() == 1  # read state is a watermark, not a row per note


@pytest.fixture(params=["function", "python"])
def stamp_path(request, monkeypatch):
    """PostgreSQL's function (migration 0007) and the Python path MariaDB takes."""
    if request.param == "function" and not stamping.has_stamp_function(connection):
        pytest.skip(f"{connection.vendor} stamps in Python only")
    if request.param == "python":
        monkeypatch.setattr(stamping, "has_stamp_function", lambda connection: False)
    return request.param


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6), page=st.integers(1, 50))
def test_stamping_in_pages_gives_dense_ids_in_ticket_order(sizes, page, monkeypatch, stamp_path):
    """Whatever the calls and the page size: ids dense, one per note, oldest ticket first;
    the same on both paths, which holds PostgreSQL's function equal to the Python."""
    monkeypatch.setattr(stamping, "_stamp_robustly", lambda using: None)
    monkeypatch.setattr(stamping, "STAMP_PAGE", page)
    start = NoteSequence.objects.get(pk=1).last_id if NoteSequence.objects.exists() else 0
    tickets = []
    for size in sizes:
        tickets += [n.id for n in note_create(kind="t", title=f"{size}", recipients=None)]
        tickets += [
            n.id
            for n in note_create(
                kind="t",
                title=f"batch {size}",
                recipients=list(_users(size)),
            )
        ]
    stamped = stamping.note_stamp_pending()
    assert [n.id for n in stamped] == list(range(start + 1, start + 1 + len(tickets)))
    assert sorted(tickets, reverse=True) == tickets  # tickets descend in creation order
    rows = list(Note.objects.filter(id__gt=start).order_by("id").values_list("title", flat=True))
    assert rows == [n.title for n in stamped]
    assert stamping.note_pending_count() == 0


def _users(count: int):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    for i in range(count):
        yield User.objects.get_or_create(username=f"h{i}")[0]


def test_the_stamp_reads_pending_notes_through_their_index_whatever_the_statistics(
    monkeypatch,
):
    """An ANALYZE that ran while a burst was pending leaves statistics that say
    a third of the table is pending: migration 0007's function then answered its
    "anything pending?" with a scan of every note (4 ms at 25,000 notes in
    ``make bench-writes``, twice per stamp, once under the lock every stamp queues on)."""
    if not stamping.has_stamp_function(connection):
        pytest.skip("the stamp function is PostgreSQL's")
    monkeypatch.setattr(stamping, "_stamp_robustly", lambda using: None)
    for i in range(30):
        note_create(kind="t", title=f"burst {i}", recipients=list(_users(100)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE note_note")
    assert len(stamping.note_stamp_pending()) == 3000
    (pending,) = note_create(kind="t", title="one more")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT note_id FROM note_stamp_pending(100, now())")
        assert [row[0] for row in cursor.fetchall()] == [3001]
        cursor.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'note_note'")
        assert cursor.fetchone()[0] == 0
