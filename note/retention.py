"""Retention: prune notes older than ``NOTES_RETENTION_DAYS``, and each user's private
notes past the newest ``NOTES_RETENTION_PER_USER``.

Deletes in batches of ids, each in its own short transaction, so no lock is
held for long and the sequence row's ``last_id`` (which orders new notes) is
never touched. Every batch, in its own transaction, raises the marks of what
it deleted: ``NoteSequence.pruned_upto`` to the highest public id, and each
recipient's :class:`~note.models.NotePruned` to the highest of their private
ids. A client that resumes from below the larger of its two marks is told in
its ``synced`` frame that notes it had not seen may be gone (it still gets
every note that is left); a prune of other users' notes tells it nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

from django.db import connections, router, transaction
from django.db.models import Count, Q, Subquery
from django.utils import timezone

from note import conf
from note.models import (
    Note,
    NoteArchive,
    NoteDeleted,
    NotePruned,
    NoteRead,
    NoteSequence,
    NoteUnread,
)

BATCH = 1000


class PruneResult(NamedTuple):
    by_age: int
    by_count: int


def note_prune(
    *,
    days: int | None = None,
    per_user: int | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> PruneResult:
    """Prune by age and by count per user (defaults: the settings; None keeps all)."""
    days = conf.RETENTION_DAYS if days is None else days
    per_user = conf.RETENTION_PER_USER if per_user is None else per_user
    by_age = by_count = 0
    if days is not None:
        cutoff = timezone.now() - timedelta(days=days)
        by_age = _prune_where(Q(created__lt=cutoff), batch, progress)
    if per_user is not None:
        crowded = (
            Note.objects.filter(recipient__isnull=False, id__gt=0)
            .values("recipient_id")
            .annotate(n=Count("id"))
            .filter(n__gt=per_user)
            .values_list("recipient_id", flat=True)
        )
        for recipient in list(crowded):
            where = Q(recipient_id=recipient)
            keep_from = None  # per_user 0: none of theirs is kept
            if per_user:
                mine = Note.objects.filter(recipient_id=recipient, id__gt=0).order_by("-id")
                kept = mine.values_list("id", flat=True)[per_user - 1 : per_user]
                keep_from = next(iter(kept), None)
            if keep_from is not None:
                where &= Q(id__lt=keep_from)
            by_count += _prune_where(where, batch, progress)
    return PruneResult(by_age, by_count)


def note_pruned_upto(*, user=None) -> int:
    """The highest id pruned so far of the notes ``user`` could see (0: none was):
    public ones, and ``user``'s own. One statement: a resume asks it once."""
    marks = NoteSequence.objects.filter(pk=1)
    if user is None or not user.is_authenticated:
        return marks.values_list("pruned_upto", flat=True).first() or 0
    mine = NotePruned.objects.filter(user_id=user.pk).values("upto")[:1]
    row = marks.annotate(mine=Subquery(mine)).values_list("pruned_upto", "mine").first()
    return max(row[0] or 0, row[1] or 0) if row else 0


def _prune_where(where: Q, batch: int, progress) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            # Only real notes: a note still being stamped has no positive id yet.
            rows = list(
                Note.objects.filter(where, id__gt=0)
                .order_by("id")
                .values_list("id", "recipient_id")[:batch]
            )
            if not rows:
                return deleted
            ids = [note_id for note_id, _ in rows]
            marks = {recipient: note_id for note_id, recipient in rows if recipient is not None}
            if marks:
                _raise_marks(marks)
            for model in (NoteRead, NoteUnread, NoteArchive, NoteDeleted):
                model.objects.filter(note_id__in=ids).delete()
            _delete_notes(ids)
            public = [note_id for note_id, recipient in rows if recipient is None]
            if public:
                # Last, so the row every sender's stamp locks is held only to the commit.
                NoteSequence.objects.filter(pk=1, pruned_upto__lt=public[-1]).update(
                    pruned_upto=public[-1]
                )
        deleted += len(rows)
        if progress is not None:
            progress(deleted)


def _delete_notes(ids: list[int]) -> None:
    """One ``DELETE`` of the batch's notes, their per-user rows already gone.

    ``QuerySet.delete()`` would first load every note of the batch, whole, to
    collect what refers to it, then delete in chunks of 100: eleven statements
    where one will do, the largest share of a batch's time on PostgreSQL
    (``bench/retention.py``). A host model with its own foreign key to a note
    makes the database refuse this loudly rather than orphan its rows.
    """
    connection = connections[router.db_for_write(Note)]
    quote, meta = connection.ops.quote_name, Note._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)}"
            f" IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )


def _raise_marks(marks: dict[int, int]) -> None:
    """Raise each user's :class:`NotePruned` mark to at least the given id, in one statement.

    A mark only rises: an age prune after a count prune must not lower it.
    Rows in key order, so two prunes running at once take their locks alike.
    """
    connection = connections[router.db_for_write(NotePruned)]
    quote, meta = connection.ops.quote_name, NotePruned._meta
    table, user, upto = (
        quote(meta.db_table),
        quote(meta.get_field("user").column),
        quote(meta.get_field("upto").column),
    )
    rows = sorted(marks.items())
    values = ", ".join(["(%s, %s)"] * len(rows))
    if connection.vendor == "mysql":
        tail = f"ON DUPLICATE KEY UPDATE {upto} = GREATEST({upto}, VALUES({upto}))"
    else:
        bigger = "GREATEST" if connection.vendor == "postgresql" else "MAX"
        tail = (
            f"ON CONFLICT ({user}) DO UPDATE SET {upto} = {bigger}({table}.{upto}, excluded.{upto})"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({user}, {upto}) VALUES {values} {tail}",
            [value for row in rows for value in row],
        )
