"""Retention: prune notes older than ``NOTES_RETENTION_DAYS``, and each user's private
notes past the newest ``NOTES_RETENTION_PER_USER``.

Deletes in batches of ids, each in its own short transaction, so no lock is
held for long and the sequence row that orders new notes is never touched.
Every batch raises ``NoteSequence.pruned_upto`` to the highest id it deleted,
so a client that resumes from below it is told in its ``synced`` frame that
notes it had not seen may be gone (it still gets every note that is left).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from note import conf
from note.models import Note, NoteArchive, NoteRead, NoteSequence, NoteUnread

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


def note_pruned_upto() -> int:
    """The highest id pruned so far (0: nothing was)."""
    return NoteSequence.objects.filter(pk=1).values_list("pruned_upto", flat=True).first() or 0


def _prune_where(where: Q, batch: int, progress) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            # Only real notes: a note still being stamped has no positive id yet.
            ids = list(
                Note.objects.filter(where, id__gt=0)
                .order_by("id")
                .values_list("id", flat=True)[:batch]
            )
            if not ids:
                return deleted
            for model in (NoteRead, NoteUnread, NoteArchive):
                model.objects.filter(note_id__in=ids).delete()
            Note.objects.filter(id__in=ids).delete()
            NoteSequence.objects.filter(pk=1, pruned_upto__lt=ids[-1]).update(pruned_upto=ids[-1])
        deleted += len(ids)
        if progress is not None:
            progress(deleted)
