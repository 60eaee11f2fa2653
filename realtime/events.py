"""The notes stream: the one channel-layer group every server process listens to.

Every event crosses the layer once per process, already in its final data
form, and is fanned out to sockets inside the process by :mod:`realtime.hub`.
One stream (rather than a group per user) is what lets each process see every
note id in order and notice a gap: ids are dense (see ``note.models.NoteSequence``),
so note N arriving after note N-2 means N-1 was lost and must be read from the
database. A private note still only ever reaches its recipient's sockets: the
hub routes it by ``recipient_id``.
"""

from __future__ import annotations

import hashlib
from typing import Any

GROUP = "notes"

NOTE = "notes.note"
UNREAD = "notes.unread"
CHANGED = "notes.changed"
PREFERENCES = "notes.preferences"
LOGOUT = "notes.logout"
CREDENTIALS = "notes.credentials"  # a user's credentials changed: re-check their sockets
PROBE = "notes.probe"  # a process checking that the stream carries its events again


def note_event(payload: dict[str, Any], *, committed_at: float) -> dict[str, Any]:
    """``committed_at`` (epoch seconds) lets each process measure delivery latency."""
    return {"type": NOTE, "note": payload, "committed_at": committed_at}


def unread_event(*, user_id: int, count: int, origin: str | None = None) -> dict[str, Any]:
    return {"type": UNREAD, "user_id": user_id, "count": count, "origin": origin}


def changed_event(
    *, user_id: int, ids: list[int], change: dict[str, bool], origin: str | None = None
) -> dict[str, Any]:
    return {"type": CHANGED, "user_id": user_id, "ids": ids, "change": change, "origin": origin}


def preferences_event(
    *, user_id: int, preferences: dict[str, Any], origin: str | None = None
) -> dict[str, Any]:
    return {"type": PREFERENCES, "user_id": user_id, "preferences": preferences, "origin": origin}


def logout_event(*, session_key: str) -> dict[str, Any]:
    return {"type": LOGOUT, "session": session_fingerprint(session_key)}


def credentials_event(*, user_key: str) -> dict[str, Any]:
    return {"type": CREDENTIALS, "user": user_key}


def probe_event(*, token: str) -> dict[str, Any]:
    return {"type": PROBE, "token": token}


def session_fingerprint(session_key: str | None) -> str | None:
    """Sessions are named by a hash on the layer and in logs, never by their key."""
    if not session_key:
        return None
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]
