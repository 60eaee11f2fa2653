"""WebSocket protocol v1: the frames we send and the commands we accept.

``docs/protocol.md`` is the reader's version of this module. Frames are built
as text here and nowhere else; the consumer only decides when to send them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils import translation

from note.inbox import note_wire

PROTOCOL_VERSION = 1
# The largest frame either side sends (contract: a client frame over 64 KiB
# closes with 1009). Notes are bounded below it where they are created
# (``NOTES_MAX_NOTE_BYTES``); ``note()`` holds the line for rows stored before that.
MAX_FRAME_BYTES = 64 * 1024
MAX_MARK_READ_IDS = 1000
MAX_NOTE_ID = 2**63 - 1


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


def parse_command(text: str) -> Ping | MarkRead:
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
        if not isinstance(ids, list) or not all(_is_note_id(i) for i in ids):
            raise ProtocolError(
                "bad_request", "mark_read needs 'ids': a list of note ids, or 'all': true"
            )
        if len(ids) > MAX_MARK_READ_IDS:
            raise ProtocolError("bad_request", f"mark_read takes at most {MAX_MARK_READ_IDS} ids")
        return MarkRead(ids=tuple(ids))
    raise ProtocolError("unknown_type", f"unknown frame type {kind[:40]!r}")


def parse_after(query_string: bytes) -> int | None:
    """The ``?after=<id>`` resume point, or None. Raises ProtocolError when malformed."""
    from urllib.parse import parse_qs

    try:
        values = parse_qs(query_string.decode("latin-1"), strict_parsing=False).get("after")
    except ValueError:
        values = None
    if not values:
        return None
    raw = values[-1]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_NOTE_ID:
        raise ProtocolError("bad_request", "'after' must be a non-negative note id")
    return int(raw)


def _is_note_id(value: Any) -> bool:
    return type(value) is int and 0 < value <= MAX_NOTE_ID


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def hello(*, user: str | None, unread: int, last_id: int) -> str:
    return _dumps(
        {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "user": user,
            "unread": unread,
            "last_id": last_id,
        }
    )


def note(payload: dict[str, Any], *, read: bool, language: str) -> str:
    with translation.override(language):
        wire = note_wire(payload, read=read)
    text = _dumps({"type": "note", "note": wire})
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


class NoteFrames:
    """One live note as frames, built once per language and shared by every socket.

    ``text`` is the frame for the ASGI send; ``wire`` is the same frame as the
    bytes of a whole WebSocket message (header and UTF-8 payload), so that a
    broadcast to thousands of sockets of one language encodes and frames it
    once (see ``realtime.patches.direct_write``).
    """

    __slots__ = ("_text", "_wire", "payload")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self._text: dict[str, str] = {}
        self._wire: dict[str, bytes] = {}

    def text(self, language: str) -> str:
        text = self._text.get(language)
        if text is None:
            text = self._text[language] = note(self.payload, read=False, language=language)
        return text

    def wire(self, language: str) -> bytes:
        data = self._wire.get(language)
        if data is None:
            data = self._wire[language] = server_text_frame(self.text(language))
        return data


def server_text_frame(text: str) -> bytes:
    """``text`` as one unmasked, final WebSocket text frame (RFC 6455, section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def synced(*, last_id: int) -> str:
    return _dumps({"type": "synced", "last_id": last_id})


def unread(*, count: int) -> str:
    return _dumps({"type": "unread", "count": count})


def pong() -> str:
    return _dumps({"type": "pong"})


def error(code: str, message: str) -> str:
    return _dumps({"type": "error", "code": code, "message": message})
