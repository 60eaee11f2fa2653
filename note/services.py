"""Writes: creating notes and marking them read.

Both register their after-commit effect here, so nothing reaches a socket
before the row it describes is visible to every other connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Max, Model, QuerySet
from django.utils import timezone

from note import conf
from note.models import Note, NoteArchive, NoteRead, NoteReadState, NoteSequence, NoteUnread
from note.preferences import note_preferences
from note.selectors import note_join_baseline, note_shown_q, note_unread_now, note_visible_q
from note.serializers import note_wire_size
from note.signals import notes_changed, notes_committed, unread_changed
from note.stamping import (
    note_stamp_after_commit,
    note_ticket_sql,
    note_tickets,
    stamps_after_commit,
)

TITLE_MAX = Note._meta.get_field("title").max_length
URL_MAX = Note._meta.get_field("url").max_length
KIND_MAX = Note._meta.get_field("kind").max_length
TARGET_ID_MAX = Note._meta.get_field("target_id").max_length


Recipients = AbstractBaseUser | Iterable[AbstractBaseUser] | QuerySet | Group


class NoteTooLarge(ValidationError):
    """A note whose wire form would pass ``NOTES_MAX_NOTE_BYTES``; nothing was stored.

    A ``ValidationError`` keyed by ``content``, so forms and the JSON API answer
    it as a field error.
    """


def note_create(
    *,
    kind: str,
    title: str,
    actor: AbstractBaseUser | None = None,
    content: str = "",
    url: str = "",
    recipients: Recipients | None = None,
    title_template: str = "",
    title_params: dict | None = None,
    data: dict | None = None,
    target: Model | None = None,
    savepoint: bool = True,
) -> list[Note]:
    """Store one public note (``recipients=None``) or one note per recipient
    (see :func:`recipient_ids` for what ``recipients`` may be).

    Ids are dense and follow commit order (:mod:`note.stamping`). On
    PostgreSQL and MariaDB the notes are written pending, under negative
    tickets, and take their ids in a short transaction after the outermost
    transaction commits: ``Note.id`` is final once that has happened (in
    this process; a note stamped by another process keeps its ticket here).
    Elsewhere the ids are taken inside this transaction, and every other
    sender waits for it. Either way the notes are handed to the channel layer
    only after they have their ids and are committed; a rollback sends nothing.

    Inside a caller's transaction this is a savepoint, so a caller that
    catches a failure here (``notify.send_robust``) keeps its own writes.
    ``savepoint=False`` is for callers whose transaction fails as a whole
    anyway, like ``news_publish``: SAVEPOINT and RELEASE were two of the ten
    round trips of a ``POST /api/news/``.

    ``data`` (a JSON object, at most ``NOTES_MAX_DATA_BYTES``) travels with the
    note to every client; ``target`` (any saved model instance) is kept for the
    sender, and gives the note its ``url`` (``get_absolute_url()``) when none is given.
    """
    if not title:
        raise ValueError("a note needs a title")
    data = note_data_clean(data)
    target_type, target_id, url = _target_fields(target, url)
    targets = [None] if recipients is None else recipient_ids(recipients)
    if not targets:
        return []
    alias = router.db_for_write(Note)
    connection = connections[alias]
    fields = {
        "kind": kind[:KIND_MAX],
        "actor": actor if actor is not None and actor.pk else None,
        "title": _clip(title, TITLE_MAX),
        "title_template": title_template,
        "title_params": title_params or {},
        "content": content or "",
        "url": (url or "")[:URL_MAX],
        "data": data,
        "target_type": target_type,
        "target_id": target_id,
    }
    if not stamps_after_commit(connection):
        with transaction.atomic(using=alias, savepoint=savepoint):
            first_id = _reserve_ids(len(targets))
            # Taken under the sequence lock, so it follows id order too.
            notes = _notes(range(first_id, first_id + len(targets)), targets, fields)
            Note.objects.using(alias).bulk_create(notes)
            transaction.on_commit(
                partial(notes_committed.send, sender=Note, notes=notes), using=alias
            )
        return notes
    if not connection.in_atomic_block and len(targets) <= ONE_INSERT:
        # Autocommit: one INSERT is a transaction of its own, and BEGIN and
        # COMMIT would be two more round trips for every note.
        if len(targets) == 1:
            # The ticket taken by the INSERT itself: one round trip per note, as
            # a plain INSERT in autocommit (most notes: one recipient, or public).
            notes = _notes([UNNUMBERED], targets, fields)
            _insert(connection, notes, id_sql=note_ticket_sql(connection))
        else:
            tickets = note_tickets(count=len(targets), connection=connection)
            notes = _notes(tickets, targets, fields)
            _insert(connection, notes)
    else:
        with transaction.atomic(using=alias, savepoint=savepoint):
            tickets = note_tickets(count=len(targets), connection=connection)
            notes = _notes(tickets, targets, fields)
            Note.objects.using(alias).bulk_create(notes)
    note_stamp_after_commit(notes, using=alias)
    return notes


# The most notes written with one INSERT outside a transaction (a few
# hundred kilobytes of statement); more take a transaction and bulk_create.
ONE_INSERT = 500
# The id a note is built and size-checked with before its INSERT takes its
# ticket: as long as any ticket, so the size check is never short.
UNNUMBERED = -(1 << 62)


def _notes(ids: Iterable[int], targets: list[int | None], fields: dict) -> list[Note]:
    """The rows of one call, checked for size (they differ only in recipient and id)."""
    now = timezone.now()
    notes = [
        Note(id=note_id, recipient_id=recipient, created=now, **fields)
        for note_id, recipient in zip(ids, targets, strict=True)
    ]
    _check_size(notes[0])
    return notes


def _insert(connection, notes: list[Note], *, id_sql: str = "") -> None:
    """One multi-row INSERT (what ``bulk_create`` sends, without its transaction).

    With ``id_sql``, one note whose id that SQL expression gives (its ticket),
    read back with ``RETURNING``.
    """
    quote, meta = connection.ops.quote_name, Note._meta
    columns = meta.concrete_fields
    computed = meta.pk if id_sql else None
    row = f"({', '.join(id_sql if f is computed else '%s' for f in columns)})"
    values = [
        f.get_db_prep_save(getattr(note, f.attname), connection)
        for note in notes
        for f in columns
        if f is not computed
    ]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)})"
        f" VALUES {', '.join([row] * len(notes))}"
    )
    with connection.cursor() as cursor:
        if computed is None:
            cursor.execute(sql, values)
            return
        (note,) = notes
        cursor.execute(f"{sql} RETURNING {quote(meta.pk.column)}", values)
        note.id = cursor.fetchone()[0]


def note_data_clean(data: Any) -> dict[str, Any]:
    """``data`` as it will be stored and sent: a JSON object within ``NOTES_MAX_DATA_BYTES``.

    Round-tripped through JSON, so what a client gets is what was stored (a
    tuple becomes a list). Anything else is a ``ValidationError`` keyed by
    ``data`` that says what is wrong, raised before anything is written.
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(
            {"data": [f"data must be a JSON object (a dict), not {type(data).__name__}"]},
            code="invalid",
        )
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            {
                "data": [
                    f"data must be plain JSON (objects with text keys, lists, text, numbers, "
                    f"true/false/null): {exc}"
                ]
            },
            code="invalid",
        ) from None
    size, limit = len(text.encode("utf-8", "surrogatepass")), conf.MAX_DATA_BYTES
    if size > limit:
        raise ValidationError(
            {"data": [f"data is {size} bytes as JSON; at most {limit} are allowed"]},
            code="too_large",
        )
    return json.loads(text)


def _target_fields(target: Model | None, url: str) -> tuple[ContentType | None, str, str]:
    """The generic relation's columns for ``target``, and the url (the target's if none given)."""
    if target is None:
        return None, "", url
    if not isinstance(target, Model) or target.pk is None:
        raise ValidationError({"target": ["target must be a saved model instance"]}, code="invalid")
    target_id = str(target.pk)
    if len(target_id) > TARGET_ID_MAX:
        raise ValidationError(
            {"target": [f"target's primary key is over {TARGET_ID_MAX} characters"]},
            code="invalid",
        )
    if not url and hasattr(target, "get_absolute_url"):
        url = target.get_absolute_url()
    return ContentType.objects.get_for_model(target), target_id, url


class MarkReadResult(NamedTuple):
    unread: int
    changed: bool  # the unread count moved
    ids: list[int] = []  # the notes whose read state changed (none listed for "all")


def note_mark_read(
    *, user, ids: Iterable[int] = (), all: bool = False, origin: str | None = None
) -> MarkReadResult:
    """Mark some of the user's visible notes (or all of them) read.

    Ids that are not visible to the user are ignored. When the unread count
    changes, every open connection of the user is told after commit, except
    ``origin`` (the connection that asked, which answers for itself).
    """
    with transaction.atomic():
        preferences = note_preferences(user=user)
        before = note_unread_now(user=user, preferences=preferences)
        state = _read_state_for_update(user)
        visible = Note.objects.filter(note_visible_q(user=user))
        if all:
            newest = visible.aggregate(m=Max("id"))["m"] or 0
            if newest > state.read_upto:
                state.read_upto = newest
                state.save(update_fields=["read_upto"])
            NoteRead.objects.filter(user_id=user.pk, note_id__lte=state.read_upto).delete()
            NoteUnread.objects.filter(user_id=user.pk).delete()
            changed_ids: list[int] = []
        else:
            wanted = set(ids)
            changed_ids = list(
                visible.filter(id__in=wanted, id__gt=state.read_upto)
                .exclude(id__in=NoteRead.objects.filter(user_id=user.pk).values("note_id"))
                .values_list("id", flat=True)
            )
            NoteRead.objects.bulk_create(
                [NoteRead(user_id=user.pk, note_id=i) for i in changed_ids],
                ignore_conflicts=True,
            )
            again = NoteUnread.objects.filter(user_id=user.pk, note_id__in=wanted)
            lowered = list(again.values_list("note_id", flat=True))
            if lowered:
                again.delete()
                changed_ids += lowered
        after = note_unread_now(user=user, preferences=preferences)
        _after_commit_tell(user, before, after, origin, changed_ids, {"read": True}, all=all)
    return MarkReadResult(unread=after, changed=after != before, ids=sorted(changed_ids))


def note_mark_unread(*, user, ids: Iterable[int], origin: str | None = None) -> MarkReadResult:
    """Mark some of the user's visible notes unread again.

    Above the watermark that deletes their :class:`~note.models.NoteRead` rows;
    at or below it, it adds a :class:`~note.models.NoteUnread` row each, so
    the count stays one query and only users who acted have rows. Ids not
    visible to the user are ignored; every other connection of the user is
    told after commit (``unread`` and ``notes_changed``).
    """
    with transaction.atomic():
        preferences = note_preferences(user=user)
        before = note_unread_now(user=user, preferences=preferences)
        state = _read_state_for_update(user)
        wanted = list(
            Note.objects.filter(note_shown_q(user=user), id__in=set(ids)).values_list(
                "id", flat=True
            )
        )
        above = [i for i in wanted if i > state.read_upto]
        below = [i for i in wanted if i <= state.read_upto]
        read_rows = NoteRead.objects.filter(user_id=user.pk, note_id__in=above)
        changed_ids = list(read_rows.values_list("note_id", flat=True))
        read_rows.delete()
        if below:
            already = set(
                NoteUnread.objects.filter(user_id=user.pk, note_id__in=below).values_list(
                    "note_id", flat=True
                )
            )
            fresh = [i for i in below if i not in already]
            NoteUnread.objects.bulk_create(
                [NoteUnread(user_id=user.pk, note_id=i) for i in fresh], ignore_conflicts=True
            )
            changed_ids += fresh
        after = note_unread_now(user=user, preferences=preferences)
        _after_commit_tell(user, before, after, origin, changed_ids, {"read": False})
    return MarkReadResult(unread=after, changed=after != before, ids=sorted(changed_ids))


def note_archive(
    *, user, ids: Iterable[int], archived: bool = True, origin: str | None = None
) -> list[int]:
    """Archive (or, ``archived=False``, unarchive) some of the user's visible notes.

    Per user: one :class:`~note.models.NoteArchive` row for each note this
    user archived, whatever the note (a public one stays one row). Read state
    is left as it is. Returns the ids whose state changed; the user's other
    connections are told after commit.
    """
    with transaction.atomic():
        wanted = set(
            Note.objects.filter(note_shown_q(user=user), id__in=set(ids)).values_list(
                "id", flat=True
            )
        )
        rows = NoteArchive.objects.filter(user_id=user.pk, note_id__in=wanted)
        present = set(rows.values_list("note_id", flat=True))
        if archived:
            changed = sorted(wanted - present)
            NoteArchive.objects.bulk_create(
                [NoteArchive(user_id=user.pk, note_id=i) for i in changed], ignore_conflicts=True
            )
        else:
            changed = sorted(present)
            rows.delete()
        _after_commit_tell(user, 0, 0, origin, changed, {"archived": archived})
    return changed


def _after_commit_tell(
    user, before: int, after: int, origin, ids: list[int], change: dict, *, all: bool = False
) -> None:
    """After commit, tell the user's other connections the new count and which notes changed.

    Every per-user action (read, unread, archive, delete) answers through here,
    so every tab hears the same two signals in the same order.
    """
    if after != before:
        transaction.on_commit(
            partial(unread_changed.send, sender=Note, user_id=user.pk, count=after, origin=origin)
        )
    if ids or (all and after != before):
        transaction.on_commit(
            partial(
                notes_changed.send,
                sender=Note,
                user_id=user.pk,
                ids=sorted(ids),
                change={**change, **({"all": True} if all else {})},
                origin=origin,
            )
        )


def _reserve_ids(count: int) -> int:
    """Take ``count`` ids from the sequence row (locked until this transaction ends).

    One statement where the database has a way to read the new value back
    with the update (see :func:`_reserve_statement`): every note pays for this
    statement, and the ORM's update and read-back are two round trips.
    """
    connection = connections[router.db_for_write(NoteSequence)]
    reserve = _reserve_statement(connection)
    if reserve is not None:
        quote, meta = connection.ops.quote_name, NoteSequence._meta
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        last = quote(meta.get_field("last_id").column)
        with connection.cursor() as cursor:
            last_id = reserve(cursor, table, pk, last, count)
    elif NoteSequence.objects.filter(pk=1).update(last_id=F("last_id") + count):
        last_id = NoteSequence.objects.values_list("last_id", flat=True).get(pk=1)
    else:
        last_id = None
    if last_id is None:
        _create_sequence_row()
        return _reserve_ids(count)
    return last_id - count + 1


def _reserve_statement(connection):
    """How this database bumps the sequence and reads it back in one statement, if it can.

    PostgreSQL and SQLite 3.35+ (the version that added RETURNING to INSERT
    too) have ``UPDATE ... RETURNING``. MariaDB and MySQL have not (MariaDB's
    RETURNING is for INSERT and DELETE only); there ``LAST_INSERT_ID(expr)``
    stores the new value in the session and the server sends it back in the
    UPDATE's own reply, which the driver shows as ``cursor.lastrowid``.
    """
    if connection.vendor == "mysql":
        return _reserve_with_last_insert_id
    if connection.vendor == "postgresql" or (
        connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert
    ):
        return _reserve_with_returning
    return None


def _reserve_with_returning(cursor, table: str, pk: str, last: str, count: int) -> int | None:
    cursor.execute(
        f"UPDATE {table} SET {last} = {last} + %s WHERE {pk} = 1 RETURNING {last}", [count]
    )
    row = cursor.fetchone()
    return None if row is None else row[0]


def _reserve_with_last_insert_id(cursor, table: str, pk: str, last: str, count: int) -> int | None:
    cursor.execute(
        f"UPDATE {table} SET {last} = LAST_INSERT_ID({last} + %s) WHERE {pk} = 1", [count]
    )
    # Django connects with CLIENT.FOUND_ROWS, so rowcount is the rows matched:
    # 0 when the row is missing (and lastrowid is then 0, not an id).
    return cursor.lastrowid if cursor.rowcount else None


def _create_sequence_row() -> None:
    """The migration creates the row; a flushed test database may have lost it."""
    start = Note.objects.filter(id__gt=0).aggregate(m=Max("id"))["m"] or 0
    _insert_unless_present(NoteSequence(pk=1, last_id=start))


def _read_state_for_update(user) -> NoteReadState:
    state = NoteReadState.objects.select_for_update().filter(user_id=user.pk).first()
    if state is None:
        state = NoteReadState(user_id=user.pk, read_upto=note_join_baseline(user=user))
        if not _insert_unless_present(state):
            state = NoteReadState.objects.select_for_update().get(user_id=user.pk)
    return state


def _insert_unless_present(obj) -> bool:
    """Insert ``obj`` unless a row with its primary key exists; True when it surely inserted it.

    Either way the row exists afterwards. Two transactions may race to create
    it: the loser finds the winner's row (after waiting for its commit).

    On InnoDB (MariaDB, MySQL) the plain INSERT will not do: one that fails on
    a duplicate key keeps a shared lock on that row until its transaction
    ends, rolled-back savepoint or not, and two losers holding it then
    deadlock when each wants the row for update, which both callers do next.
    ``ON DUPLICATE KEY UPDATE`` waits for the exclusive lock instead. It does
    not say whether it inserted (Django's connection counts found rows), so
    the caller reads the row back.
    """
    connection = connections[router.db_for_write(type(obj))]
    if connection.vendor != "mysql":
        try:
            with transaction.atomic(using=connection.alias):
                obj.save(force_insert=True, using=connection.alias)
        except IntegrityError:
            return False  # another transaction created it first
        return True
    quote, meta = connection.ops.quote_name, obj._meta
    fields = meta.concrete_fields
    columns = ", ".join(quote(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
    pk = quote(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns})"
            f" VALUES ({', '.join(['%s'] * len(values))})"
            f" ON DUPLICATE KEY UPDATE {pk} = {pk}",
            values,
        )
    return False


def recipient_ids(recipients: Recipients) -> list[int]:
    """The user ids a note goes to, each once, in a stable order.

    A user, an iterable of users, a QuerySet of users, or a ``Group`` (its
    members now). A QuerySet or a group is read in one statement, ids only,
    whatever its size.
    """
    if isinstance(recipients, Group):
        recipients = get_user_model()._default_manager.filter(groups=recipients)
    if isinstance(recipients, QuerySet):
        return list(recipients.order_by("pk").values_list("pk", flat=True).distinct())
    if isinstance(recipients, AbstractBaseUser):
        recipients = [recipients]
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise TypeError(
            "recipients must be None (public), a user, users, a QuerySet of users or a Group, "
            f"not {type(recipients).__name__}"
        )
    ids: dict[int, None] = {}
    for user in recipients:
        if not isinstance(user, AbstractBaseUser):
            raise TypeError(f"recipients must be users, not {type(user).__name__}")
        if user.pk is not None:
            ids.setdefault(user.pk)
    return list(ids)


def _check_size(note: Note) -> None:
    """Refuse a note whose frame would not fit the protocol's frame limit.

    Measured as UTF-8 bytes of the note's JSON, the form every client gets, so
    a title of 500 emoji counts four bytes a character. The notes of one call
    differ only in their recipient, so the first stands for all.
    """
    limit = conf.MAX_NOTE_BYTES
    try:
        size = note_wire_size(note)
    except UnicodeEncodeError:
        # JSON's "\ud800" decodes to a lone surrogate, which no database stores.
        raise ValidationError(
            {"title": ["the note's text has a lone surrogate, which is not valid Unicode"]},
            code="invalid_unicode",
        ) from None
    if size > limit:
        raise NoteTooLarge(
            {"content": [f"the note would be {size} bytes as JSON; at most {limit} are allowed"]},
            code="too_large",
        )


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
