"""Per-user, per-kind, per-channel preferences: mute a kind, choose the channels
(toast, desktop, email) each kind reaches you by, do not disturb for a while.

Every deliverer asks one question: ``Preferences.delivers(kind, channel)``.
A muted kind is delivered nowhere. Otherwise the user's choice for that kind
and channel wins, then their choice for every kind (kind ``*``), then the
site's ``NOTES_CHANNEL_DEFAULTS`` for the kind, then its ``*``. Do not
disturb holds the interrupting channels (``toast``, ``desktop``: the page
shows nothing pop up, the system shows nothing) and leaves ``email`` alone: a
digest is already what someone who is away gets, never an interruption.

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
from functools import cached_property, partial
from typing import Any, NamedTuple

from django.db import connection, transaction

from note import conf
from note.models import NoteChannelPreference, NotePreference, NoteQuiet
from notes_client.protocol import ALL_KINDS, CHANNELS

KIND_MAX = NotePreference._meta.get_field("kind").max_length
KINDS_MAX = 200  # kinds one user may have a choice for
QUIET_MAX_SECONDS = 366 * 24 * 3600
QUIET_CHANNELS = frozenset({"toast", "desktop"})  # what do not disturb holds back
PAGE_CHANNELS = ("toast", "desktop")  # what the page decides, note by note


@dataclass(frozen=True)
class Preferences:
    kinds: dict[str, bool] = field(default_factory=dict)  # the user's choices: kind -> muted
    quiet_until: int | None = None  # epoch seconds
    count_muted: bool = False
    opt_in: tuple[str, ...] = ()  # the site's NOTES_OPT_IN_KINDS when these were read
    # The user's channel choices: kind (or "*") -> channel -> on.
    channels: dict[str, dict[str, bool]] = field(default_factory=dict)
    # The site's NOTES_CHANNEL_DEFAULTS when these were read: kind (or "*") -> channels;
    # None (preferences from a server that predates channels): the setting now.
    channel_defaults: dict[str, tuple[str, ...]] | None = None

    def kind_muted(self, kind: str) -> bool:
        choice = self.kinds.get(kind)
        return kind in self.opt_in if choice is None else choice

    def quiet(self, now: float | None = None) -> bool:
        return self.quiet_until is not None and (now or time.time()) < self.quiet_until

    def muted(self, kind: str, now: float | None = None) -> bool:
        """Is a note of ``kind`` muted for this user now (the frame's ``muted``)?"""
        return self.quiet(now) or self.kind_muted(kind)

    def delivers(self, kind: str, channel: str, now: float | None = None) -> bool:
        """Does a note of ``kind`` reach this user by ``channel`` (now)?

        The one question every deliverer asks (toasts, desktop notifications,
        email digests): muted kinds go nowhere, do not disturb holds toast and
        desktop, then the user's choice, then the site's default.
        """
        if channel not in CHANNELS:
            raise ValueError(f"no channel {channel!r}: the channels are {', '.join(CHANNELS)}")
        if self.kind_muted(kind):
            return False
        if channel in QUIET_CHANNELS and self.quiet(now):
            return False
        return self._chosen(kind, channel)

    def _chosen(self, kind: str, channel: str) -> bool:
        """The user's choice for ``kind`` on ``channel``, else theirs for every kind, else
        the site's default for the kind, else the site's for every kind."""
        for choices in (self.channels.get(kind), self.channels.get(ALL_KINDS)):
            if choices is not None and channel in choices:
                return choices[channel]
        site = self.site_channels
        defaults = site.get(kind, site.get(ALL_KINDS, ()))
        return channel in defaults

    def channels_off(self, kind: str) -> list[str]:
        """The page's channels a note of ``kind`` skips although it is not muted (the note
        frame's ``channels_off``; a muted note says ``muted`` instead)."""
        if self._page_channels_everywhere:
            return []
        return [c for c in PAGE_CHANNELS if not self._chosen(kind, c)]

    @cached_property
    def _page_channels_everywhere(self) -> bool:
        """No choices of the user's and site defaults that send every kind to the page's
        channels: the common case, answered without a lookup per socket per note."""
        return (
            not self.channels
            and ALL_KINDS in self.site_channels
            and all(set(PAGE_CHANNELS) <= set(v) for v in self.site_channels.values())
        )

    @property
    def site_channels(self) -> dict[str, tuple[str, ...]]:
        if self.channel_defaults is not None:
            return self.channel_defaults
        return {kind: tuple(channels) for kind, channels in conf.CHANNEL_DEFAULTS.items()}

    def uncounted_kinds(self) -> list[str]:
        """The kinds whose notes do not count as unread (none when ``count_muted``)."""
        if self.count_muted:
            return []
        kinds = {k for k, muted in self.kinds.items() if muted}
        kinds.update(k for k in self.opt_in if k not in self.kinds)
        return sorted(kinds)

    @property
    def is_default(self) -> bool:
        return (
            not self.kinds
            and self.quiet_until is None
            and not self.count_muted
            and not self.channels
        )

    def wire(self) -> dict[str, Any]:
        """As the API and the ``preferences`` frame show them."""
        return {
            "muted": sorted(k for k in {*self.kinds, *self.opt_in} if self.kind_muted(k)),
            "unmuted": sorted(k for k, muted in self.kinds.items() if not muted),
            "opt_in": list(self.opt_in),
            "quiet_until": self.quiet_until if self.quiet() else None,
            "count_muted": self.count_muted,
            "channels": {
                kind: dict(sorted(c.items())) for kind, c in sorted(self.channels.items())
            },
            "channel_defaults": {k: list(v) for k, v in sorted(self.site_channels.items())},
        }

    def to_event(self) -> dict[str, Any]:
        """Plain data for the channel layer (``from_event`` reads it back)."""
        return {
            "kinds": self.kinds,
            "quiet_until": self.quiet_until,
            "count_muted": self.count_muted,
            "opt_in": list(self.opt_in),
            "channels": self.channels,
            "channel_defaults": {k: list(v) for k, v in self.site_channels.items()},
        }

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> Preferences:
        return cls(
            kinds=dict(data.get("kinds") or {}),
            quiet_until=data.get("quiet_until"),
            count_muted=bool(data.get("count_muted")),
            opt_in=tuple(data.get("opt_in") or ()),
            channels={k: dict(v) for k, v in (data.get("channels") or {}).items()},
            channel_defaults=None
            if data.get("channel_defaults") is None
            else {k: tuple(v) for k, v in data["channel_defaults"].items()},
        )


NO_PREFERENCES = Preferences()


def note_preferences(*, user) -> Preferences:
    """The user's preferences in one statement (the connect path reads them)."""
    opt_in = tuple(sorted(conf.OPT_IN_KINDS))
    defaults = {kind: tuple(channels) for kind, channels in conf.CHANNEL_DEFAULTS.items()}
    if user is None or not user.is_authenticated:
        return Preferences(opt_in=opt_in, channel_defaults=defaults)
    pref, quiet = NotePreference._meta.db_table, NoteQuiet._meta.db_table
    chan = NoteChannelPreference._meta.db_table
    sql = (
        f"SELECT kind, muted, NULL, 0, '' FROM {pref} WHERE user_id = %s"
        f" UNION ALL SELECT '', count_muted, until, 1, '' FROM {quiet} WHERE user_id = %s"
        f" UNION ALL SELECT kind, enabled, NULL, 2, channel FROM {chan} WHERE user_id = %s"
    )
    kinds: dict[str, bool] = {}
    channels: dict[str, dict[str, bool]] = {}
    quiet_until, count_muted = None, False
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, user.pk])
        for kind, flag, until, source, channel in cursor.fetchall():
            if source == 1:
                quiet_until, count_muted = until, bool(flag)
            elif source == 2:
                channels.setdefault(kind, {})[channel] = bool(flag)
            else:
                kinds[kind] = bool(flag)
    return Preferences(
        kinds=kinds,
        quiet_until=quiet_until,
        count_muted=count_muted,
        opt_in=opt_in,
        channels=channels,
        channel_defaults=defaults,
    )


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
    channels: Iterable[tuple[str, str, bool | None]] = (),
    origin: str | None = None,
) -> PreferencesResult:
    """Change the user's preferences; every open socket of the user hears the result
    after commit (and a new unread count if it moved).

    ``reset`` drops the user's choice for a kind (back to the site's default);
    ``quiet_seconds`` 0 or None ends do-not-disturb; ``channels`` holds
    ``(kind, channel, on)`` choices, ``on`` None dropping the choice (kind ``*``:
    every kind without a choice of its own).
    """
    from note.selectors import note_unread_now  # selectors read preferences too
    from note.signals import preferences_changed, unread_changed

    mute, unmute, reset = _kinds(mute), _kinds(unmute), _kinds(reset)
    channels = _channel_choices(channels)
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
        for kind, channel, on in channels:
            if on is None:
                NoteChannelPreference.objects.filter(
                    user_id=user.pk, kind=kind, channel=channel
                ).delete()
            else:
                NoteChannelPreference.objects.update_or_create(
                    user_id=user.pk, kind=kind, channel=channel, defaults={"enabled": on}
                )
        if NotePreference.objects.filter(user_id=user.pk).count() > KINDS_MAX:
            raise PreferenceError(f"at most {KINDS_MAX} kinds may have a preference")
        if NoteChannelPreference.objects.filter(user_id=user.pk).count() > KINDS_MAX * len(
            CHANNELS
        ):
            raise PreferenceError(
                f"at most {KINDS_MAX * len(CHANNELS)} channel choices (kind and channel)"
            )
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


def _channel_choices(choices: Iterable[tuple[str, str, bool | None]]) -> list:
    choices = list(choices)
    _kinds(list(dict.fromkeys(kind for kind, _channel, _on in choices)))
    for _kind, channel, on in choices:
        if channel not in CHANNELS:
            raise PreferenceError(f"a channel is one of {', '.join(CHANNELS)}, not {channel!r}")
        if on is not None and not isinstance(on, bool):
            raise PreferenceError(f"a channel is on (true), off (false) or null, not {on!r}")
    return choices
