"""Who is connected, across server processes: the ``NotePresence`` rows.

The email digest needs "has not been connected for an hour" and a user's
sockets may live in any process. Each process's hub keeps the set of users it
serves and calls :func:`note_presence_record` in batches (``realtime.hub``):
a socket's connect costs no query, and a flush costs a few statements per
``PRESENCE_CHUNK`` users whatever the number of sockets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from note import conf
from note.models import NotePresence

PRESENCE_CHUNK = 500


def note_presence_record(*, seen: Mapping[int, str], at: datetime | None = None) -> int:
    """Mark each user of ``seen`` (user id -> language of their connection) as
    seen ``at`` (now). Users already recorded get one UPDATE per language and
    chunk; new ones one INSERT. Returns how many users were written."""
    at = at or timezone.now()
    ids = list(seen)
    for start in range(0, len(ids), PRESENCE_CHUNK):
        chunk = ids[start : start + PRESENCE_CHUNK]
        known = set(
            NotePresence.objects.filter(user_id__in=chunk).values_list("user_id", flat=True)
        )
        by_language: dict[str, list[int]] = {}
        for user_id in chunk:
            if user_id in known:
                by_language.setdefault(seen[user_id] or "", []).append(user_id)
        for language, users in by_language.items():
            NotePresence.objects.filter(user_id__in=users).update(last_seen=at, language=language)
        new = [
            NotePresence(user_id=u, last_seen=at, language=seen[u] or "")
            for u in chunk
            if u not in known
        ]
        # Another process may insert the same user between our read and this:
        # its row is as good as ours.
        NotePresence.objects.bulk_create(new, ignore_conflicts=True)
    return len(ids)


def presence_seconds() -> float:
    """How often a server process writes every connected user (``NOTES_PRESENCE_SECONDS``)."""
    return conf.PRESENCE_SECONDS


def note_present_user_ids(*, now: datetime | None = None) -> QuerySet:
    """Users seen within ``NOTES_DIGEST_AWAY_SECONDS``: connected, or only just gone."""
    since = (now or timezone.now()) - timedelta(seconds=conf.DIGEST_AWAY_SECONDS)
    return NotePresence.objects.filter(Q(last_seen__gte=since)).values("user_id")


def note_user_language(*, user_id: int) -> str:
    """The language of the user's latest connection, '' when never seen."""
    row = NotePresence.objects.filter(user_id=user_id).values_list("language", flat=True)
    return next(iter(row), "")
