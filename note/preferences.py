"""Per-user, per-kind preferences: mute a kind, do not disturb for a while.

A muted note is still stored, listed and sent; its frame says ``"muted": true``
(the page does not toast it) and, unless the user chose ``count_muted``, it
does not count as unread. Do not disturb mutes every kind for toasting only:
counting a note unread must not depend on the hour it is asked.

Site defaults are ``NOTES_OPT_IN_KINDS``: kinds muted until a user turns them
on. A user's own choice for a kind wins over that.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from django.db import connection, transaction

from note import conf
from note.models import NotePreference, NoteQuiet

KIND_MAX = NotePreference._meta.get_field("kind").max_length
KINDS_MAX = 200  # kinds one user may have a choice for
QUIET_MAX_SECONDS = 366 * 24 * 3600


@dataclass(frozen=True)
class Preferences:
    kinds: dict[str, bool] = field(default_factory=dict)  # the user's choices: kind -> muted
    quiet_until: int | None = None  # epoch seconds
    count_muted: bool = False
    opt_in: tuple[str, ...] = ()  # the site's NOTES_OPT_IN_KINDS when these were read

    def kind_muted(self, kind: str) -> bool:
        choice = self.kinds.get(kind)
        return kind in self.opt_in if choice is None else choice

    def quiet(self, now: float | None = None) -> bool:
        return self.quiet_until is not None and (now or time.time()) < self.quiet_until

    def muted(self, kind: str, now: float | None = None) -> bool:
        """Is a note of ``kind`` muted for this user now (the frame's ``muted``)?"""
        return self.quiet(now) or self.kind_muted(kind)

    def uncounted_kinds(self) -> list[str]:
        """The kinds whose notes do not count as unread (none when ``count_muted``)."""
        if self.count_muted:
            return []
        kinds = {k for k, muted in self.kinds.items() if muted}
        kinds.update(k for k in self.opt_in if k not in self.kinds)
        return sorted(kinds)

    @property
    def is_default(self) -> bool:
        return not self.kinds and self.quiet_until is None and not self.count_muted

    def wire(self) -> dict[str, Any]:
        """As the API and the ``preferences`` frame show them."""
        return {
            "muted": sorted(k for k in {*self.kinds, *self.opt_in} if self.kind_muted(k)),
            "unmuted": sorted(k for k, muted in self.kinds.items() if not muted),
            "opt_in": list(self.opt_in),
            "quiet_until": self.quiet_until if self.quiet() else None,
            "count_muted": self.count_muted,
        }

    def to_event(self) -> dict[str, Any]:
        """Plain data for the channel layer (``from_event`` reads it back)."""
        return {
            "kinds": self.kinds,
            "quiet_until": self.quiet_until,
            "count_muted": self.count_muted,
            "opt_in": list(self.opt_in),
        }

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> Preferences:
        return cls(
            kinds=dict(data.get("kinds") or {}),
            quiet_until=data.get("quiet_until"),
            count_muted=bool(data.get("count_muted")),
            opt_in=tuple(data.get("opt_in") or ()),
        )


NO_PREFERENCES = Preferences()


def note_preferences(*, user) -> Preferences:
    """The user's preferences in one statement (the connect path reads them)."""
    opt_in = tuple(sorted(conf.OPT_IN_KINDS))
    if user is None or not user.is_authenticated:
        return Preferences(opt_in=opt_in)
    pref, quiet = NotePreference._meta.db_table, NoteQuiet._meta.db_table
    sql = (
        f"SELECT kind, muted, NULL, 0 FROM {pref} WHERE user_id = %s"
        f" UNION ALL SELECT '', count_muted, until, 1 FROM {quiet} WHERE user_id = %s"
    )
    kinds: dict[str, bool] = {}
    quiet_until, count_muted = None, False
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk])
        for kind, flag, until, is_quiet in cursor.fetchall():
            if is_quiet:
                quiet_until, count_muted = until, bool(flag)
            else:
                kinds[kind] = bool(flag)
    return Preferences(kinds=kinds, quiet_until=quiet_until, count_muted=count_muted, opt_in=opt_in)


class UNSET:
    """Leave this preference as it is."""


class PreferenceError(ValueError):
    """Bad input for :func:`note_preferences_set`; its message says what is wrong."""


class PreferencesResult(NamedTuple):
    preferences: Preferences
    unread: int
    changed: bool  # the unread count moved


def note_preferences_set(
    *,
    user,
    mute: Iterable[str] = (),
    unmute: Iterable[str] = (),
    reset: Iterable[str] = (),
    quiet_seconds: int | type[UNSET] | None = UNSET,
    count_muted: bool | type[UNSET] = UNSET,
    origin: str | None = None,
) -> PreferencesResult:
    """Change the user's preferences; every open socket of the user hears the result
    after commit (and a new unread count if it moved).

    ``reset`` drops the user's choice for a kind (back to the site's default);
    ``quiet_seconds`` 0 or None ends do-not-disturb.
    """
    from note.selectors import note_unread_now  # selectors read preferences too
    from note.signals import preferences_changed, unread_changed

    mute, unmute, reset = _kinds(mute), _kinds(unmute), _kinds(reset)
    if quiet_seconds is not UNSET and quiet_seconds is not None:
        if type(quiet_seconds) is not int or not 0 <= quiet_seconds <= QUIET_MAX_SECONDS:
            raise PreferenceError(
                f"do not disturb lasts 0 to {QUIET_MAX_SECONDS} seconds, not {quiet_seconds!r}"
            )
    if count_muted is not UNSET and not isinstance(count_muted, bool):
        raise PreferenceError(f"count_muted is true or false, not {count_muted!r}")
    with transaction.atomic():
        before = note_preferences(user=user)
        count_before = note_unread_now(user=user, preferences=before)
        for kinds, muted in ((mute, True), (unmute, False)):
            for kind in kinds:
                NotePreference.objects.update_or_create(
                    user_id=user.pk, kind=kind, defaults={"muted": muted}
                )
        if reset:
            NotePreference.objects.filter(user_id=user.pk, kind__in=reset).delete()
        if quiet_seconds is not UNSET or count_muted is not UNSET:
            defaults: dict[str, Any] = {}
            if quiet_seconds is not UNSET:
                defaults["until"] = int(time.time()) + quiet_seconds if quiet_seconds else None
            if count_muted is not UNSET:
                defaults["count_muted"] = count_muted
            NoteQuiet.objects.update_or_create(user_id=user.pk, defaults=defaults)
        if NotePreference.objects.filter(user_id=user.pk).count() > KINDS_MAX:
            raise PreferenceError(f"at most {KINDS_MAX} kinds may have a preference")
        after = note_preferences(user=user)
        count_after = note_unread_now(user=user, preferences=after)
        # The order the asking socket answers in: ``unread`` first, then ``preferences``.
        if count_after != count_before:
            transaction.on_commit(
                partial(
                    unread_changed.send,
                    sender=NotePreference,
                    user_id=user.pk,
                    count=count_after,
                    origin=origin,
                )
            )
        transaction.on_commit(
            partial(
                preferences_changed.send,
                sender=NotePreference,
                user_id=user.pk,
                preferences=after.to_event(),
                origin=origin,
            )
        )
    return PreferencesResult(after, count_after, count_after != count_before)


def _kinds(kinds: Iterable[str]) -> list[str]:
    kinds = list(kinds)
    for kind in kinds:
        if not isinstance(kind, str) or not 0 < len(kind) <= KIND_MAX:
            raise PreferenceError(f"a kind is a text of 1 to {KIND_MAX} characters, not {kind!r}")
    if len(kinds) > KINDS_MAX:
        raise PreferenceError(f"at most {KINDS_MAX} kinds at a time")
    return kinds
