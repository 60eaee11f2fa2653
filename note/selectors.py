"""Reads of notes and read state. Every query that lists or counts notes for a
user goes through :func:`note_visible_q`, the one statement of the visibility rule,
except :func:`note_unread_and_last_id`: the connect path's single SQL statement,
held to agree with the others by ``tests/note/test_unread_and_last_id.py``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection
from django.db.models import Exists, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from note.models import (
    Note,
    NoteArchive,
    NoteDeleted,
    NotePruned,
    NoteRead,
    NoteReadState,
    NoteSequence,
    NoteUnread,
)
from note.preferences import Preferences, note_preferences
from note.retention import note_pruned_upto


def note_visible_q(*, user) -> Q:
    """A note is visible when it is public or addressed to ``user``; anonymous sees public only.

    And stamped: a pending note (a negative ticket for its id, ``note.stamping``)
    is no one's until its transaction has given it its place.
    """
    stamped = Q(id__gt=0)
    if user is None or not user.is_authenticated:
        return stamped & Q(recipient__isnull=True)
    return stamped & (Q(recipient__isnull=True) | Q(recipient_id=user.pk))


def note_shown_q(*, user) -> Q:
    """Visible and not deleted by ``user``: what listings, replays and actions see.

    Only public notes can be deleted without going (``note.deletion``), so the
    test is on those alone, one probe of ``note_deleted_once`` per note. Counts
    keep :func:`note_visible_q`: a deleted note is read, so it never counts.
    """
    if user is None or not user.is_authenticated:
        return note_visible_q(user=user)
    deleted = NoteDeleted.objects.filter(user_id=user.pk, note_id=OuterRef("pk"))
    return Q(id__gt=0) & ((Q(recipient__isnull=True) & ~Exists(deleted)) | Q(recipient_id=user.pk))


def note_list_visible(
    *, user, after: int | None = None, before: int | None = None, limit: int = 50
) -> list[Note]:
    """Shown notes (:func:`note_shown_q`): newest first, or oldest first when ``after``
    is given (resume order)."""
    qs: QuerySet[Note] = Note.objects.filter(note_shown_q(user=user)).select_related("actor")
    if after is not None:
        return list(qs.filter(id__gt=after).order_by("id")[:limit])
    if before is not None:
        qs = qs.filter(id__lt=before)
    return list(qs.order_by("-id")[:limit])


class ReplayPage(NamedTuple):
    notes: list[Note]
    read_ids: set[int]
    archived_ids: set[int]
    pruned_upto: int | None  # read with a page shorter than asked (the last); else None


def note_replay_page(*, user, after: int, limit: int) -> ReplayPage:
    """The next page of a resume: :func:`note_list_visible` after ``after``, with the
    user's read and archived state of each note, in one statement.

    Separately that was four or five (the notes, the watermark, read rows,
    unread-again rows, archive rows) on every page of every resume. A page
    shorter than ``limit`` is the last: it also carries how far notes the user
    could see were pruned (:func:`note.retention.note_pruned_upto`), read in
    the same statement after every earlier page, so a resume asks the marks
    in a statement of their own only when its last page is empty.
    Held equal to the separate selectors by ``tests/note/test_replay_page.py``.
    """
    qs = Note.objects.filter(note_shown_q(user=user), id__gt=after).select_related("actor")
    signed_in = user is not None and user.is_authenticated
    public_mark = NoteSequence.objects.filter(pk=1).values("pruned_upto")[:1]
    marks = {"public_mark": Subquery(public_mark, output_field=IntegerField())}
    if signed_in:
        mine = NotePruned.objects.filter(user_id=user.pk).values("upto")[:1]
        marks["my_mark"] = Subquery(mine, output_field=IntegerField())
        joined = getattr(user, "date_joined", None)
        baseline = (
            Subquery(
                Note.objects.filter(id__gt=0, created__lt=joined).order_by("-id").values("id")[:1],
                output_field=IntegerField(),
            )
            if joined is not None
            else Value(None, output_field=IntegerField())
        )
        state = NoteReadState.objects.filter(user_id=user.pk).values("read_upto")[:1]
        mine_q = {"user_id": user.pk, "note_id": OuterRef("pk")}
        qs = qs.annotate(
            read_upto=Coalesce(Subquery(state, output_field=IntegerField()), baseline, Value(0)),
            read_one=Exists(NoteRead.objects.filter(**mine_q)),
            unread_again=Exists(NoteUnread.objects.filter(**mine_q)),
            archived_by_me=Exists(NoteArchive.objects.filter(**mine_q)),
        )
    notes = list(qs.annotate(**marks).order_by("id")[:limit])
    read_ids, archived_ids = set(), set()
    if signed_in:
        for n in notes:
            if (n.read_one and n.id > n.read_upto) or (n.id <= n.read_upto and not n.unread_again):
                read_ids.add(n.id)
            if n.archived_by_me:
                archived_ids.add(n.id)
    pruned_upto = None
    if len(notes) < limit:
        if notes:
            last = notes[-1]
            pruned_upto = max(last.public_mark or 0, getattr(last, "my_mark", None) or 0)
        else:
            pruned_upto = note_pruned_upto(user=user)
    return ReplayPage(notes, read_ids, archived_ids, pruned_upto)


def note_list_inbox(
    *,
    user,
    before: int | None = None,
    limit: int = 50,
    unread: bool | None = None,
    kinds: Iterable[str] = (),
    archived: bool | None = None,
) -> list[Note]:
    """One page of the user's inbox, newest first: the cursor is ``before`` (an id), never
    an offset, so a page costs the same however deep it is.

    ``unread``/``archived`` None means either; ``kinds`` empty means every kind.
    """
    qs: QuerySet[Note] = Note.objects.filter(note_shown_q(user=user)).select_related("actor")
    if before is not None:
        qs = qs.filter(id__lt=before)
    kinds = list(kinds)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    signed_in = user is not None and user.is_authenticated
    if archived is not None:
        mine = NoteArchive.objects.filter(user_id=user.pk).values("note_id") if signed_in else None
        if archived:
            qs = qs.filter(id__in=mine) if signed_in else qs.none()
        elif signed_in:
            qs = qs.exclude(id__in=mine)
    if unread is not None:
        unread_q = note_unread_q(user=user) if signed_in else Q(pk__in=[])
        qs = qs.filter(unread_q) if unread else qs.exclude(unread_q)
    return list(qs.order_by("-id")[:limit])


def note_unread_q(*, user) -> Q:
    """Of the visible notes, the user's unread ones: above the watermark and not read
    one by one, or at or below it and marked unread again."""
    upto = note_read_upto(user=user)
    read = NoteRead.objects.filter(user_id=user.pk, note_id__gt=upto).values("note_id")
    again = NoteUnread.objects.filter(user_id=user.pk).values("note_id")
    return (Q(id__gt=upto) & ~Q(id__in=read)) | Q(id__in=again)


def note_archived_ids(*, user, notes: Iterable[Note]) -> set[int]:
    """Which of ``notes`` the user has archived (for the ``archived`` field of each note)."""
    ids = [n.id for n in notes]
    if user is None or not user.is_authenticated or not ids:
        return set()
    return set(
        NoteArchive.objects.filter(user_id=user.pk, note_id__in=ids).values_list(
            "note_id", flat=True
        )
    )


def note_list_after(*, after: int, upto: int | None = None, limit: int = 500) -> list[Note]:
    """Every note of any recipient with ``after < id <= upto``, oldest first.

    What a server process reads when the channel layer lost notes: it routes
    each to its own sockets, so it needs them all, not one user's.
    """
    notes = Note.objects.filter(id__gt=max(after, 0)).select_related("actor").order_by("id")
    if upto is not None:
        notes = notes.filter(id__lte=upto)
    return list(notes[:limit])


def note_last_visible_id(*, user) -> int:
    """The newest visible note id, 0 when there is none."""
    return Note.objects.filter(note_visible_q(user=user)).aggregate(m=Max("id"))["m"] or 0


def note_nth_newest_visible_id(*, user, n: int) -> int | None:
    """The id of the ``n``-th newest visible note (1: the newest), None when there are fewer.

    Reads ids only, from the newest down: what deciding where a capped
    replay starts costs, whatever the length of the history.
    """
    visible = Note.objects.filter(note_visible_q(user=user)).order_by("-id")
    return next(iter(visible.values_list("id", flat=True)[n - 1 : n]), None)


def note_last_id() -> int:
    """The newest note id of all, 0 when there is none."""
    return Note.objects.filter(id__gt=0).aggregate(m=Max("id"))["m"] or 0


def note_read_upto(*, user) -> int:
    """The user's read watermark; before any read action, the newest note older than the account."""
    state = NoteReadState.objects.filter(user_id=user.pk).values_list("read_upto", flat=True)
    for read_upto in state:
        return read_upto
    return note_join_baseline(user=user)


def note_join_baseline(*, user) -> int:
    """The newest note created before the user joined: those start out read."""
    joined = getattr(user, "date_joined", None)
    if joined is None:
        return 0
    return Note.objects.filter(id__gt=0, created__lt=joined).aggregate(m=Max("id"))["m"] or 0


def note_unread_count(
    *, user, upto_id: int | None = None, preferences: Preferences | None = None
) -> int:
    """Unread visible notes; with ``upto_id``, only those with ids up to it (a snapshot
    that agrees with a ``last_id`` read just before). Muted kinds do not count unless
    the user chose so (``note.preferences``)."""
    if user is None or not user.is_authenticated:
        return 0
    if preferences is None:
        preferences = note_preferences(user=user)
    uncounted = preferences.uncounted_kinds()
    upto = note_read_upto(user=user)
    visible = Note.objects.filter(note_visible_q(user=user), id__gt=upto)
    read = NoteRead.objects.filter(user_id=user.pk, note_id__gt=upto)
    # Marked unread again: always at or below the watermark (raising it drops them).
    again = NoteUnread.objects.filter(user_id=user.pk)
    if uncounted:
        visible = visible.exclude(kind__in=uncounted)
        read = read.exclude(note__kind__in=uncounted)
        again = again.exclude(note__kind__in=uncounted)
    if upto_id is not None:
        visible = visible.filter(id__lte=upto_id)
        read = read.filter(note_id__lte=upto_id)
        again = again.filter(note_id__lte=upto_id)
    return visible.count() - read.count() + again.count()


def note_unread_and_last_id(*, user, preferences: Preferences | None = None) -> tuple[int, int]:
    """``(note_unread_count(user=user, upto_id=last_id), last_id)``, with
    ``last_id = note_last_visible_id(user=user)``, in one query and one snapshot
    (plus one for the user's preferences when the caller has not read them).

    Every WebSocket connect asks this for its ``hello`` frame. Through the ORM
    it is five queries (last id, watermark, join baseline, two counts): five
    round trips and the ORM's query building, which held the GIL for most of
    a connect storm's CPU (py-spy, docs/performance.md).

    The newest visible id is the larger of two index lookups (newest public,
    newest of the user's), not one MAX under an OR: MariaDB reads every visible
    entry of ``note_recipient_id`` for that (30 ms against 0.6 ms at 200,000
    notes); on PostgreSQL both forms take the same time.
    """
    if user is None or not user.is_authenticated:
        return 0, note_last_visible_id(user=None)
    if preferences is None:
        preferences = note_preferences(user=user)
    note, state, read, again = (
        m._meta.db_table for m in (Note, NoteReadState, NoteRead, NoteUnread)
    )
    # Muted kinds do not count: the notes' own kind, and for read and
    # unread-again rows their note's.
    uncounted = preferences.uncounted_kinds()
    note_counted = read_counted = again_counted = ""
    if uncounted:
        counted = f"NOT IN ({', '.join(['%s'] * len(uncounted))})"
        note_counted = f"AND n.kind {counted}"
        read_counted = f"AND r.note_id IN (SELECT id FROM {note} WHERE kind {counted})"
        again_counted = f"AND a.note_id IN (SELECT id FROM {note} WHERE kind {counted})"
    visible = "(n.recipient_id IS NULL OR n.recipient_id = %s)"
    joined = getattr(user, "date_joined", None)
    # "id > 0": pending notes (note.stamping) count for nothing yet.
    baseline = f"(SELECT MAX(id) FROM {note} WHERE id > 0 AND created < %s)" if joined else "NULL"
    sql = f"""
        WITH upto AS (
            SELECT COALESCE((SELECT read_upto FROM {state} WHERE user_id = %s), {baseline}, 0) AS id
        ), newest AS (
            SELECT COALESCE(MAX(v.id), 0) AS id FROM (
                SELECT MAX(id) AS id FROM {note} WHERE recipient_id IS NULL AND id > 0
                UNION ALL SELECT MAX(id) FROM {note} WHERE recipient_id = %s AND id > 0
            ) v
        )
        SELECT newest.id,
            (SELECT COUNT(*) FROM {note} n
              WHERE {visible} AND n.id > upto.id AND n.id <= newest.id {note_counted})
          - (SELECT COUNT(*) FROM {read} r
              WHERE r.user_id = %s AND r.note_id > upto.id AND r.note_id <= newest.id
              {read_counted})
          + (SELECT COUNT(*) FROM {again} a
              WHERE a.user_id = %s AND a.note_id <= newest.id {again_counted})
        FROM upto, newest
    """
    # A DateTimeField parameter as the ORM would pass it (SQLite and MariaDB: a text form).
    since = [connection.ops.adapt_datetimefield_value(joined)] if joined else []
    params = [user.pk, *since, user.pk, user.pk, *uncounted]
    params += [user.pk, *uncounted, user.pk, *uncounted]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        last_id, unread = cursor.fetchone()
    return unread, last_id


def note_unread_now(*, user, preferences: Preferences | None = None) -> int:
    """:func:`note_unread_count` of every visible note, in the one statement of
    :func:`note_unread_and_last_id`: what each write that reports the new count asks,
    before and after (through the ORM that was four statements each time)."""
    if user is None or not user.is_authenticated:
        return 0
    return note_unread_and_last_id(user=user, preferences=preferences)[0]


def note_read_ids(*, user, notes: Iterable[Note]) -> set[int]:
    """Which of ``notes`` the user has read (for the ``read`` field of each note)."""
    notes = list(notes)
    if user is None or not user.is_authenticated or not notes:
        return set()
    upto = note_read_upto(user=user)
    above = [n.id for n in notes if n.id > upto]
    below = [n.id for n in notes if n.id <= upto]
    read = set(below)
    if above:
        read.update(
            NoteRead.objects.filter(user_id=user.pk, note_id__in=above).values_list(
                "note_id", flat=True
            )
        )
    if below:
        read.difference_update(
            NoteUnread.objects.filter(user_id=user.pk, note_id__in=below).values_list(
                "note_id", flat=True
            )
        )
    return read
