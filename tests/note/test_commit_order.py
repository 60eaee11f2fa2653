"""Note ids follow commit order: a reader never sees id N while a smaller id can still appear.

Run on SQLite, PostgreSQL and MariaDB (``DATABASE_URL``); on PostgreSQL an
auto-increment id would fail these, because sequence values are taken
before commit. On PostgreSQL and MariaDB ids are stamped after commit
(``note.stamping``), so an open writer holds no other writer.
"""

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction

from note.models import Note
from note.selectors import note_list_visible
from note.services import note_create
from note.stamping import stamps_after_commit

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(fn):
    def run():
        try:
            fn()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def stamped_after_commit() -> bool:
    return stamps_after_commit(connection)


def test_a_second_writer_does_not_wait_for_an_open_first_and_gets_the_smaller_id():
    """PostgreSQL and MariaDB: the first writer's open transaction holds no one (issue 14).

    The second commits while the first is still open, and its note is
    listed at once; the first, committing later, gets the larger id.
    """
    if not stamped_after_commit():
        pytest.skip("SQLite and MySQL take ids inside the transaction: see the next test")
    first_created, release_first = threading.Event(), threading.Event()
    result: dict[str, int] = {}

    def first():
        with transaction.atomic():
            note_create(kind="t", title="first")
            first_created.set()
            release_first.wait(30)
        result["first"] = Note.objects.get(title="first").id

    first_thread = in_thread(first)
    assert first_created.wait(10)
    second_thread = in_thread(
        lambda: result.setdefault("second", note_create(kind="t", title="second")[0].id)
    )
    second_thread.join(20)
    try:
        assert not second_thread.is_alive(), "the second writer waited for the first"
        assert first_thread.is_alive() and "first" not in result
        assert [n.title for n in note_list_visible(user=None)] == ["second"]
    finally:
        release_first.set()
        first_thread.join(20)
    assert result["first"] == result["second"] + 1
    assert [n.title for n in note_list_visible(user=None)] == ["first", "second"]


def test_a_second_writer_waits_and_gets_the_larger_id():
    """SQLite (one writer at a time anyway) and MySQL: ids are taken inside the transaction."""
    if stamped_after_commit():
        pytest.skip("PostgreSQL and MariaDB stamp ids after commit: see the test above")
    first_created, release_first = threading.Event(), threading.Event()
    result: dict[str, float | int] = {}

    def first():
        with transaction.atomic():
            result["first"] = note_create(kind="t", title="first")[0].id
            first_created.set()
            release_first.wait(10)
        result["first_committed"] = time.monotonic()

    def second():
        first_created.wait(10)
        with transaction.atomic():
            result["second"] = note_create(kind="t", title="second")[0].id
        result["second_committed"] = time.monotonic()

    threads = [in_thread(first), in_thread(second)]
    assert first_created.wait(10)
    time.sleep(0.5)
    waited = "second" not in result
    release_first.set()
    for thread in threads:
        thread.join(20)
    assert waited, "the second writer must wait for the first to commit"
    assert result["second"] == result["first"] + 1
    assert result["second_committed"] > result["first_committed"]


def test_a_rolled_back_writer_leaves_no_hole():
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        note_create(kind="t", title="rolled back")
        raise Abort
    kept = note_create(kind="t", title="kept")[0]
    assert list(Note.objects.values_list("id", flat=True)) == [kept.id]
    assert kept.id == 1


def test_concurrent_writers_never_expose_a_gap_to_readers():
    """Eight writers commit in random order; a reader's every snapshot is a gapless prefix."""
    writers, per_writer = 6, 15
    done = threading.Event()
    snapshots: list[list[int]] = []
    errors: list[BaseException] = []

    def writer(seed: int):
        rng = random.Random(seed)
        try:
            for i in range(per_writer):
                with transaction.atomic():
                    note_create(kind="t", title=f"w{seed}-{i}")
                    time.sleep(rng.random() * 0.01)  # hold the transaction open a little
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader():
        while not done.is_set():
            with connection.cursor() as cursor:
                # What every reader filters on: a pending note (negative ticket) is no one's yet.
                cursor.execute("SELECT id FROM note_note WHERE id > 0 ORDER BY id")
                snapshots.append([row[0] for row in cursor.fetchall()])
            time.sleep(0.001)

    reader_thread = in_thread(reader)
    threads = [in_thread(lambda s=s: writer(s)) for s in range(writers)]
    for thread in threads:
        thread.join(120)
    done.set()
    reader_thread.join(10)

    assert not errors, errors
    total = writers * per_writer
    assert list(Note.objects.order_by("id").values_list("id", flat=True)) == list(
        range(1, total + 1)
    )
    assert len(snapshots) > 10
    for snapshot in snapshots:
        assert snapshot == list(range(1, len(snapshot) + 1)), f"reader saw a gap: {snapshot}"
