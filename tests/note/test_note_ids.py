"""Note ids: what a write costs, and that every path hands out the same dense ids.

``tests/note/test_commit_order.py`` shows the ids follow commit order; these
show the statements of a write (on PostgreSQL and MariaDB a ticket and the
pending row in the sender's transaction, the id in a stamp after it; on
SQLite the id inside it) and that every path of ``_reserve_ids`` and of the
stamp hands out the same dense ids, on SQLite, PostgreSQL and MariaDB
(``DATABASE_URL``).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from news.services import news_publish
from note import services
from note.models import Note, NoteSequence
from note.services import note_create
from note.stamping import stamps_after_commit

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture(params=["one-statement", "update-then-select"])
def reserve_path(request, monkeypatch):
    """Both ways of reading the sequence back; the second is what SQLite < 3.35 gets.

    The first is ``UPDATE ... RETURNING`` on PostgreSQL and SQLite,
    ``LAST_INSERT_ID(expr)`` on MariaDB.
    """
    if request.param == "one-statement" and services._reserve_statement(connection) is None:
        pytest.skip(f"{connection.vendor} here cannot update and read back in one statement")
    if request.param == "update-then-select":
        monkeypatch.setattr(services, "_reserve_statement", lambda connection: None)
    return request.param


def test_publishing_news_writes_two_rows_and_takes_no_lock_until_commit(
    alice, django_capture_on_commit_callbacks
):
    stamped_later = stamps_after_commit(connection)
    with CaptureQueriesContext(connection) as queries:
        with django_capture_on_commit_callbacks() as after_commit:
            news_publish(author=alice, title="Cheap", content="three statements")
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # The test runs inside a transaction, so news_publish's is a savepoint
    # here (BEGIN and COMMIT in production); note_create adds none of its own.
    if stamped_later:
        # A ticket from a sequence (locks nothing), then the pending note.
        assert statements == ["SAVEPOINT", "INSERT", "SELECT", "INSERT", "RELEASE"], statements
        assert not Note.objects.filter(id__gt=0).exists()  # nobody sees it before its stamp
        assert len(after_commit) == 1  # the stamp, once the caller has committed
    else:
        # The id from the sequence row, locked until news_publish commits.
        assert statements == ["SAVEPOINT", "INSERT", "UPDATE", "INSERT", "RELEASE"], statements
    with CaptureQueriesContext(connection) as queries:
        for callback in after_commit:
            callback()
    if stamped_later:
        statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
        if connection.vendor == "postgresql":
            # The stamp is one function call (migration 0007), then the notes are read
            # back for delivery, the lock already gone. Outside a test's transaction
            # the call is its own transaction: no SAVEPOINT or RELEASE.
            assert statements == ["SAVEPOINT", "SELECT", "RELEASE", "SELECT"], statements
        else:
            # Lock the sequence row, read the tickets, number them, move the sequence;
            # then the notes are read back for delivery.
            assert statements == [
                *("SAVEPOINT", "SELECT", "SELECT", "UPDATE", "UPDATE", "RELEASE"),
                "SELECT",
            ], statements
    note = Note.objects.get()
    assert note.title == "alice posted news: Cheap"
    assert note.id == NoteSequence.objects.get(pk=1).last_id > 0


def test_ids_are_dense_and_continue_from_the_sequence(reserve_path, alice):
    first = note_create(kind="t", title="one")
    batch = note_create(
        kind="t", title="each", recipients=[alice, alice.__class__.objects.create_user("bob")]
    )
    last = note_create(kind="t", title="three")
    ids = [n.id for n in first + batch + last]
    assert ids == list(range(ids[0], ids[0] + 4))
    assert NoteSequence.objects.get(pk=1).last_id == ids[-1]
    assert sorted(Note.objects.values_list("id", flat=True)) == ids


def test_a_lost_sequence_row_is_made_again_after_the_newest_note(reserve_path):
    (before,) = note_create(kind="t", title="before")
    NoteSequence.objects.all().delete()  # as a flushed test database leaves it
    (after,) = note_create(kind="t", title="after")
    assert after.id == before.id + 1
    assert NoteSequence.objects.get(pk=1).last_id == after.id
