"""Note positions given at commit, not at insert: no sender waits for another (issue 14).

A note's ``id`` is the client-visible resume cursor: dense, and in commit
order (``docs/architecture.md``, "Ordering"). Version 1 took it from the one
:class:`~note.models.NoteSequence` row inside the sending transaction, so that
row stayed locked until the sender committed and one slow transaction held
up every sender of the site.

Where the database has sequences (PostgreSQL, MariaDB) a sender now writes
its notes *pending*: with a negative **ticket** as their id, taken from a
sequence, which locks nothing. No reader shows a note whose id is not
positive (``note.selectors``). After the sender commits, :func:`note_stamp_pending`
runs one short transaction that locks the sequence row, gives every
committed pending note its real id (oldest ticket first), and commits; only
then are the notes handed on (``notes_committed``). The lock is held from the
moment the ids are read until they are committed, so ids are still committed
in id order, and one stamp serves every sender that committed before it.

A process that dies between its sender's commit and the stamp leaves
pending notes behind: every server process's hub sweeps notes pending for
longer than ``NOTES_STAMP_SWEEP_SECONDS`` (``manage.py stamp_pending_notes``
does the same for a site without one).

SQLite allows one writer at a time anyway, and MySQL has no sequences: there
the sender takes its ids inside its own transaction, as before
(``note.services._reserve_ids``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import timedelta
from functools import partial

from django.db import connections, router, transaction
from django.utils import timezone

from note import conf
from note.models import Note, NoteSequence
from note.signals import notes_committed

log = logging.getLogger(__name__)

# Created by migration 0005 where ``stamps_after_commit`` holds.
TICKET_SEQUENCE = "note_ticket_seq"
# One sequence value numbers a whole call's notes: ticket = -(value << 24 | i).
# A call of more than 2**24 notes takes more values; 2**39 calls fit in 63 bits.
TICKET_BITS = 24
# The most notes one stamping transaction numbers; more are the next one's.
STAMP_PAGE = 20_000

# Notes created in this process and not yet stamped, by ticket: whichever
# thread stamps them gives the caller's objects their ids. Weak, so that the
# notes of a rolled-back transaction are simply forgotten.
_waiting: weakref.WeakValueDictionary[int, Note] = weakref.WeakValueDictionary()
_waiting_lock = threading.Lock()


def stamps_after_commit(connection) -> bool:
    """Whether notes on this database are written pending and stamped after commit."""
    return connection.vendor == "postgresql" or (
        connection.vendor == "mysql" and connection.mysql_is_mariadb
    )


def note_tickets(*, count: int, connection) -> list[int]:
    """``count`` distinct negative ids for pending notes, in the order given.

    One sequence value per call (per 2**24 notes): taking it locks nothing
    that outlives the statement, and a rollback only leaves an unused value.
    """
    block = 1 << TICKET_BITS
    tickets: list[int] = []
    with connection.cursor() as cursor:
        while len(tickets) < count:
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT nextval('{TICKET_SEQUENCE}')")
            else:
                cursor.execute(f"SELECT NEXTVAL({TICKET_SEQUENCE})")
            base = cursor.fetchone()[0] << TICKET_BITS
            tickets.extend(-(base | i) for i in range(min(block, count - len(tickets))))
    return tickets


def note_ticket_sql(connection) -> str:
    """SQL for one note's ticket, taken by the statement that inserts it.

    The same value :func:`note_tickets` gives a call of one note, without
    the round trip of asking for it first.
    """
    if connection.vendor == "postgresql":
        return f"-(nextval('{TICKET_SEQUENCE}') << {TICKET_BITS})"
    return f"-(NEXTVAL({TICKET_SEQUENCE}) << {TICKET_BITS})"


def note_stamp_after_commit(notes: list[Note], *, using: str) -> None:
    """Stamp ``notes`` (pending, just written) once the caller's transaction commits.

    Called by ``note_create`` after its own atomic block. Outside any
    transaction that block has committed, so the stamp runs now. A failed
    stamp is logged, not raised: the caller's notes are committed, and the
    sweep stamps them later.

    A test case's transaction never commits; Django's own ``durable=True``
    looks past those blocks (``Atomic._from_testcase``) and so does this, so
    that a test sees what a site outside any transaction sees.
    """
    with _waiting_lock:
        for note in notes:
            _waiting[note.id] = note
    connection = connections[using]
    if all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        _stamp_robustly(using)
    else:
        transaction.on_commit(lambda: _stamp_robustly(using), using=using)


def _stamp_robustly(using: str) -> None:
    try:
        note_stamp_pending(using=using)
    except Exception:
        log.exception("note_stamp_failed (the sweep will stamp them)")


def note_stamp_pending(*, using: str | None = None, older_than: float | None = None) -> list[Note]:
    """Give every committed pending note its id; return the notes stamped, in id order.

    ``older_than`` (seconds) is the sweep's question: stamp only when some
    note has been pending at least that long (its sender's own stamp did not
    come). Each stamped note is sent with ``notes_committed`` after the
    stamp commits, exactly once: a note is pending in one committed state
    and stamped in the next, and only the transaction that stamped it sends it.
    """
    alias = using or router.db_for_write(Note)
    connection = connections[alias]
    if not stamps_after_commit(connection):
        return []
    if older_than is not None:
        since = timezone.now() - timedelta(seconds=older_than)
        if not Note.objects.using(alias).filter(id__lt=0, created__lte=since).exists():
            return []
    stamped: list[Note] = []
    while True:
        page = _stamp_page(alias)
        stamped.extend(page)
        if len(page) < STAMP_PAGE:
            return stamped


def note_sweep_pending(*, using: str | None = None) -> list[Note]:
    """Stamp what has been pending longer than ``NOTES_STAMP_SWEEP_SECONDS``.

    Called by every server process's hub on each catch-up tick, and by
    ``manage.py stamp_pending_notes``: a sender that died between its commit
    and its stamp loses nothing, its notes arrive a sweep later.
    """
    return note_stamp_pending(using=using, older_than=conf.STAMP_SWEEP_SECONDS)


def note_pending_count(*, using: str | None = None) -> int:
    """Notes committed but not stamped yet (what the sweep would stamp)."""
    return Note.objects.using(using or router.db_for_write(Note)).filter(id__lt=0).count()


def _stamp_page(alias: str) -> list[Note]:
    """One stamping transaction: lock the sequence, number the oldest pending notes, commit.

    Under READ COMMITTED (Django's level on both databases) each statement
    sees what has committed when it starts, and the pending notes are read
    after the lock is granted: every note whose sender committed before this
    stamp took the lock is numbered here or by an earlier stamp, never by a
    later one. A sender still open holds no lock that this waits for: its
    notes are invisible to the read and outside the ranges updated.

    On PostgreSQL the whole transaction is one statement, the function of
    migration 0007 (:func:`_stamp_in_function`); elsewhere it is four
    (:func:`_stamp_in_python`). Either way the notes are read back in full,
    for delivery, after the lock is gone.
    """
    connection = connections[alias]
    in_function = has_stamp_function(connection)
    now = timezone.now()
    if in_function and not connection.in_atomic_block:
        # One statement in autocommit: its own transaction, the lock gone when it answers.
        moved = _stamp_in_function(alias, now)
    else:
        stamp = _stamp_in_function if in_function else _stamp_in_python
        with transaction.atomic(using=alias):
            moved = stamp(alias, now)
    if not moved:
        return []
    # Committed (or, in a test case's transaction, released). The senders'
    # objects in this process learn their ids and are delivered as they are;
    # only other senders' notes are read back, after the lock is gone.
    with _waiting_lock:
        here = {ticket: _waiting.pop(ticket, None) for ticket, _ in moved}
    by_id: dict[int, Note] = {}
    for ticket, note_id in moved:
        if (note := here[ticket]) is not None:
            note.id, note.created = note_id, now
            by_id[note_id] = note
    others = [note_id for _, note_id in moved if note_id not in by_id]
    if others:
        read = Note.objects.using(alias).select_related("actor")
        by_id.update((n.id, n) for n in read.filter(id__gte=others[0], id__lte=others[-1]))
    notes = [by_id[note_id] for _, note_id in moved if note_id in by_id]
    # Outside a transaction this sends now; inside one (a test case's) at its commit.
    transaction.on_commit(partial(notes_committed.send, sender=Note, notes=notes), using=alias)
    return notes


def has_stamp_function(connection) -> bool:
    """Whether the stamp is the database function of migration 0007 (PostgreSQL)."""
    return connection.vendor == "postgresql"


def _stamp_in_function(alias: str, now) -> list[tuple[int, int]]:
    """PostgreSQL: ``(ticket, id)`` of each note the function stamped, in id order."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM note_stamp_pending(%s, %s)", [STAMP_PAGE, now])
        moved = cursor.fetchall()
    if moved == [(None, None)]:  # no sequence row
        from note.services import _create_sequence_row

        _create_sequence_row()
        return _stamp_in_function(alias, now)
    return [(ticket, note_id) for ticket, note_id in moved]


def _stamp_in_python(alias: str, now) -> list[tuple[int, int]]:
    """Any database: lock, read the tickets, renumber them, move the sequence."""
    connection = connections[alias]
    last_id = _lock_sequence(alias)
    tickets = list(
        Note.objects.using(alias)
        .filter(id__lt=0)
        .order_by("-id")
        .values_list("id", flat=True)[:STAMP_PAGE]
    )
    if not tickets:
        return []
    _renumber(connection, _runs(tickets, first_id=last_id + 1), now)
    NoteSequence.objects.using(alias).filter(pk=1).update(last_id=last_id + len(tickets))
    return list(zip(tickets, range(last_id + 1, last_id + 1 + len(tickets)), strict=True))


def _lock_sequence(alias: str) -> int:
    """The sequence's last id, its row locked until this transaction ends."""
    locked = NoteSequence.objects.using(alias).select_for_update().filter(pk=1)
    last_id = locked.values_list("last_id", flat=True).first()
    if last_id is None:
        from note.services import _create_sequence_row

        _create_sequence_row()
        last_id = locked.values_list("last_id", flat=True).get()
    return last_id


def _runs(tickets: list[int], *, first_id: int) -> list[tuple[int, int, int]]:
    """``(highest, lowest, offset)`` per run of consecutive tickets, in the order given.

    A call's tickets descend by one, so a run is usually one call's notes,
    and every ticket ``t`` in it becomes ``offset - t``: one range and one
    subtraction per run, whatever the number of notes.
    """
    runs: list[tuple[int, int, int]] = []
    for position, ticket in enumerate(tickets):
        if runs and ticket == runs[-1][1] - 1:
            high, _, offset = runs[-1]
            runs[-1] = (high, ticket, offset)
        else:
            runs.append((ticket, ticket, first_id + position + ticket))
    return runs


def _renumber(connection, runs: list[tuple[int, int, int]], now) -> None:
    """One UPDATE that moves each run to its ids and stamps ``created`` with the stamp's time.

    ``created`` then follows id order as it did in version 1 (a user's join
    baseline compares it with ``date_joined``).
    """
    quote = connection.ops.quote_name
    table = quote(Note._meta.db_table)
    pk = quote(Note._meta.pk.column)
    created = quote(Note._meta.get_field("created").column)
    cases, where, case_params, where_params = [], [], [], []
    for high, low, offset in runs:
        cases.append(f"WHEN {pk} BETWEEN %s AND %s THEN %s - {pk}")
        case_params += [low, high, offset]
        where.append(f"{pk} BETWEEN %s AND %s")
        where_params += [low, high]
    stamp_time = Note._meta.get_field("created").get_db_prep_value(now, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {pk} = CASE {' '.join(cases)} END, {created} = %s"
            f" WHERE {' OR '.join(where)}",
            [*case_params, stamp_time, *where_params],
        )
