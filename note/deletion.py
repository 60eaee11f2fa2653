"""Deleting notes, per user: what ``POST /api/notes/delete/`` and the socket's
``delete`` frame call.

A private note has one reader, so deleting it removes its row (and its read
and archive rows): a user who deletes a note expects it gone from the
database, not merely out of sight, and nothing else refers to it. A public
note is everyone's: it stays one row and the user gets a
:class:`~note.models.NoteDeleted` row, which hides it from their listings,
replays and actions, and nobody else's. Deleting also marks the note read for
that user, so the unread count (one query on every connect) needs no term for
hidden notes and a deleted note can never be counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from django.db import transaction

from note.models import Note, NoteArchive, NoteDeleted, NoteRead, NoteUnread
from note.preferences import note_preferences
from note.selectors import note_shown_q, note_unread_now
from note.services import _after_commit_tell, _read_state_for_update


class DeleteResult(NamedTuple):
    unread: int
    changed: bool  # the unread count moved
    ids: list[int]  # the notes deleted for the user (ids not shown to them are left out)


def note_delete(*, user, ids: Iterable[int], origin: str | None = None) -> DeleteResult:
    """Delete some of the user's notes for that user (see the module for how).

    Ids the user cannot see, or has deleted already, are ignored. After
    commit every connection of the user but ``origin`` hears ``unread`` (when
    the count moved) and ``changed`` with ``"deleted": true``, so every tab
    drops them.
    """
    with transaction.atomic():
        preferences = note_preferences(user=user)
        before = note_unread_now(user=user, preferences=preferences)
        rows = list(
            Note.objects.filter(note_shown_q(user=user), id__in=set(ids)).values_list(
                "id", "recipient_id"
            )
        )
        private = [i for i, recipient in rows if recipient is not None]
        public = [i for i, recipient in rows if recipient is None]
        if private:
            # Its read, unread-again and archive rows go with it (Django's cascade).
            Note.objects.filter(id__in=private, recipient_id=user.pk).delete()
        if public:
            state = _read_state_for_update(user)
            NoteRead.objects.bulk_create(
                [NoteRead(user_id=user.pk, note_id=i) for i in public if i > state.read_upto],
                ignore_conflicts=True,
            )
            NoteUnread.objects.filter(user_id=user.pk, note_id__in=public).delete()
            NoteArchive.objects.filter(user_id=user.pk, note_id__in=public).delete()
            NoteDeleted.objects.bulk_create(
                [NoteDeleted(user_id=user.pk, note_id=i) for i in public], ignore_conflicts=True
            )
        deleted = sorted(private + public)
        after = note_unread_now(user=user, preferences=preferences) if deleted else before
        _after_commit_tell(user, before, after, origin, deleted, {"deleted": True})
    return DeleteResult(unread=after, changed=after != before, ids=deleted)
