"""WebSocket protocol v1: its numbers, the frames the server sends, the commands it accepts.

The one Python home of these facts: the server's consumer and HTTP API and
this package's client import them from here. ``docs/protocol.md`` is the
reader's version; ``frontend/static/frontend/protocol.js`` holds the same
numbers for browsers, and ``tests/test_protocol_tables.py`` holds all three
equal.

Standard library only: the client installs without Django, and the server's
bottom layer (``note``) imports this module too.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

PROTOCOL_VERSION = 1


class CloseCode(enum.IntEnum):
    """Every code the server closes a socket with, and what it tells the client."""

    NORMAL = 1000  # the session logged out: its browser connections end
    GOING_AWAY = 1001  # the server is shutting down: resume with ?after=
    POLICY = 1008  # the client kept flooding after rate_limited errors
    TOO_BIG = 1009  # the client sent a frame over MAX_FRAME_BYTES
    INTERNAL_ERROR = 1011  # a server error: reconnect with back-off
    SERVICE_RESTART = 1012  # the server could not keep the client up to date: resume
    TRY_AGAIN_LATER = 1013  # the client fell behind (or read a replay too slowly): resume later
    BAD_REQUEST = 4400  # the handshake's request was bad; an error frame says why
    REVOKED = 4401  # the credential ended (revoked, expired, ticket used): don't retry with it
    NOT_FOUND = 4404  # no WebSocket endpoint at this path
    RATE_LIMITED = 4429  # a limit refused the handshake: wait the reason's seconds, then back off


# The largest frame either side sends: a client frame over it closes with
# TOO_BIG. Notes are bounded below it where they are created
# (NOTES_MAX_NOTE_BYTES); note() holds the line for rows stored before that.
MAX_FRAME_BYTES = 64 * 1024
MAX_MARK_READ_IDS = 1000  # ids in one mark_read, mark_unread, archive, delete (or their POSTs)
MAX_NOTE_ID = 2**63 - 1  # ids are 64-bit signed integers in every database


def retry_after(reason: str) -> int | None:
    """The seconds a ``RATE_LIMITED`` close's reason asks for (``"...; retry after 3 s"``)."""
    match = re.search(r"retry after (\d{1,6}) s", reason or "")
    return int(match.group(1)) if match else None


def is_note_id(value: Any) -> bool:
    """True for a note id: an int from 1 to ``MAX_NOTE_ID`` (a bool or a float is not)."""
    return type(value) is int and 0 < value <= MAX_NOTE_ID


def is_resume_point(value: Any) -> bool:
    """True for what ``?after=`` takes: a note id, or 0 for "from the first note"."""
    return is_note_id(value) or (type(value) is int and value == 0)


# Client to server.


class ProtocolError(Exception):
    """Bad input from a client; answered with an ``error`` frame, never fatal."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class MarkRead:
    ids: tuple[int, ...] = ()
    all: bool = False


@dataclass(frozen=True)
class MarkUnread:
    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Archive:
    ids: tuple[int, ...] = ()
    archived: bool = True


@dataclass(frozen=True)
class Delete:
    """Delete notes for this user: a private note goes, a public one is hidden from them."""

    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SetPreferences:
    """Change (or, with nothing set, just ask for) the user's preferences."""

    mute: tuple[str, ...] = ()
    unmute: tuple[str, ...] = ()
    reset: tuple[str, ...] = ()
    quiet_minutes: int | None = None  # None: leave do-not-disturb as it is; 0 ends it
    count_muted: bool | None = None
    # (kind, channel, on): on None drops the user's choice (back to the site's default).
    channels: tuple[tuple[str, str, bool | None], ...] = ()


# Where a note can reach a user: a toast on an open page, a desktop (system)
# notification while the page is hidden, an email digest. Kind ``*`` in a
# preferences frame's ``channels`` means every kind without a choice of its own.
CHANNELS = ("toast", "desktop", "email")
ALL_KINDS = "*"

MAX_KIND_CHARS = 64
MAX_QUIET_MINUTES = 7 * 24 * 60

Command = Ping | MarkRead | MarkUnread | Archive | Delete | SetPreferences


def _kinds(data: dict[str, Any], name: str) -> tuple[str, ...]:
    kinds = data.get(name, [])
    if (
        not isinstance(kinds, list)
        or len(kinds) > MAX_MARK_READ_IDS
        or not all(isinstance(k, str) and 0 < len(k) <= MAX_KIND_CHARS for k in kinds)
    ):
        raise ProtocolError(
            "bad_request", f"preferences' {name!r} must be a list of kinds (1 to 64 characters)"
        )
    return tuple(kinds)


def _preferences(data: dict[str, Any]) -> SetPreferences:
    quiet = data.get("quiet_minutes")
    if quiet is not None and not (type(quiet) is int and 0 <= quiet <= MAX_QUIET_MINUTES):
        raise ProtocolError(
            "bad_request", f"'quiet_minutes' must be a whole number from 0 to {MAX_QUIET_MINUTES}"
        )
    count_muted = data.get("count_muted")
    if count_muted is not None and not isinstance(count_muted, bool):
        raise ProtocolError("bad_request", "'count_muted' must be true or false")
    return SetPreferences(
        mute=_kinds(data, "mute"),
        unmute=_kinds(data, "unmute"),
        reset=_kinds(data, "reset"),
        quiet_minutes=quiet,
        count_muted=count_muted,
        channels=_channels(data),
    )


def _channels(data: dict[str, Any]) -> tuple[tuple[str, str, bool | None], ...]:
    """``{"chat": {"desktop": false, "email": null}}``: per kind, per channel, on, off or
    null (back to the site's default)."""
    channels = data.get("channels", {})
    wrong = ProtocolError(
        "bad_request",
        "preferences' 'channels' must map kinds (1 to 64 characters, or \"*\") to "
        f"{{channel: true, false or null}}, channels being {', '.join(CHANNELS)}",
    )
    if not isinstance(channels, dict) or len(channels) > MAX_MARK_READ_IDS:
        raise wrong
    choices = []
    for kind, by_channel in channels.items():
        if not 0 < len(kind) <= MAX_KIND_CHARS or not isinstance(by_channel, dict):
            raise wrong
        for channel, on in by_channel.items():
            if channel not in CHANNELS or not (on is None or isinstance(on, bool)):
                raise wrong
            choices.append((kind, channel, on))
    return tuple(choices)


def _note_ids(data: dict[str, Any], kind: str) -> tuple[int, ...]:
    ids = data.get("ids")
    if not isinstance(ids, list) or not all(is_note_id(i) for i in ids):
        raise ProtocolError("bad_request", f"{kind} needs 'ids': a list of note ids")
    if len(ids) > MAX_MARK_READ_IDS:
        raise ProtocolError("bad_request", f"{kind} takes at most {MAX_MARK_READ_IDS} ids")
    return tuple(ids)


def parse_command(text: str) -> Command:
    """The command in a client's text frame; raises ProtocolError naming what is wrong."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_request", "frame must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_request", "frame needs a string 'type'")
    if kind == "ping":
        return Ping()
    if kind == "mark_read":
        if data.get("all") is True:
            return MarkRead(all=True)
        ids = data.get("ids")
        if not isinstance(ids, list) or not all(is_note_id(i) for i in ids):
            raise ProtocolError(
                "bad_request", "mark_read needs 'ids': a list of note ids, or 'all': true"
            )
        if len(ids) > MAX_MARK_READ_IDS:
            raise ProtocolError("bad_request", f"mark_read takes at most {MAX_MARK_READ_IDS} ids")
        return MarkRead(ids=tuple(ids))
    if kind == "mark_unread":
        return MarkUnread(ids=_note_ids(data, kind))
    if kind in ("archive", "unarchive"):
        return Archive(ids=_note_ids(data, kind), archived=kind == "archive")
    if kind == "delete":
        return Delete(ids=_note_ids(data, kind))
    if kind == "preferences":
        return _preferences(data)
    raise ProtocolError("unknown_type", f"unknown frame type {kind[:40]!r}")


def parse_after(query_string: bytes) -> int | None:
    """The ``?after=<id>`` resume point, or None. Raises ProtocolError when malformed."""
    try:
        values = parse_qs(query_string.decode("latin-1"), strict_parsing=False).get("after")
    except ValueError:
        values = None
    if not values:
        return None
    raw = values[-1]
    # No note id has over 19 digits; checking first spares int() a huge string
    # (past 4,300 digits it raises ValueError).
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not is_resume_point(int(raw)):
        raise ProtocolError("bad_request", "'after' must be a non-negative note id")
    return int(raw)


# Server to client: each frame as compact JSON text.


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def hello(
    *, user: str | None, unread: int, last_id: int, preferences: dict[str, Any] | None = None
) -> str:
    """``preferences`` only for a user who has set some (a v1 hello otherwise)."""
    frame = {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "user": user,
        "unread": unread,
        "last_id": last_id,
    }
    if preferences is not None:
        frame["preferences"] = preferences
    return _dumps(frame)


def note(wire: dict[str, Any]) -> str:
    """The frame of one note, ``wire`` being the note as the API renders it.

    A frame over ``MAX_FRAME_BYTES`` has its text clipped (see ``_clipped``).
    """
    text = _dumps({"type": "note", "note": wire})
    # Encoding costs a copy: only a text that could be over the limit (at most
    # four bytes a character) is measured.
    if len(text) * 4 > MAX_FRAME_BYTES and len(text.encode()) > MAX_FRAME_BYTES:
        text = _clipped(wire)
    return text


def _clipped(wire: dict[str, Any]) -> str:
    """The note frame with its content (then title) cut until it fits ``MAX_FRAME_BYTES``.

    Only a note stored before notes were size-checked can need this; sending
    it whole would make the client drop the connection, and every resume
    from before it would fail the same way. ``truncated`` tells the client
    that ``GET /api/notes/`` has the whole text.
    """
    wire = {**wire, "truncated": True}
    for field in ("content", "title"):
        whole, keep = wire[field], len(wire[field])
        while True:
            text = _dumps({"type": "note", "note": wire})
            over = len(text.encode()) - MAX_FRAME_BYTES
            if over <= 0:
                return text
            if keep == 0:
                break
            # Each character is at least one byte of JSON: cutting `over` of them
            # gains enough, but for the ellipsis, which the next turn pays for.
            keep = max(0, keep - over)
            wire[field] = whole[:keep] + "…" if keep else ""
    return _dumps({"type": "note", "note": wire})


def synced(*, last_id: int, capped: bool = False, pruned: bool = False) -> str:
    """``capped``: the replay skipped older notes (an anonymous replay's depth limit).
    ``pruned``: notes after the resume point may have been pruned (retention)."""
    frame: dict[str, Any] = {"type": "synced", "last_id": last_id}
    if capped:
        frame["capped"] = True
    if pruned:
        frame["pruned"] = True
    return _dumps(frame)


def unread(*, count: int) -> str:
    return _dumps({"type": "unread", "count": count})


def changed(*, ids: list[int], change: dict[str, bool]) -> str:
    """Some of the user's notes changed state (``read``, ``archived``, ``deleted``; ``all``
    with read)."""
    return _dumps({"type": "changed", "ids": ids, **change})


def preferences(wire: dict[str, Any]) -> str:
    """The user's preferences changed (in any of their connections, the API or a command)."""
    return _dumps({"type": "preferences", **wire})


def pong() -> str:
    return _dumps({"type": "pong"})


def error(code: str, message: str) -> str:
    return _dumps({"type": "error", "code": code, "message": message})
