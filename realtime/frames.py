"""Note frames as the server sends them: in each reader's language, built once per language.

The frame shapes and limits are ``notes_client.protocol``, shared with the
client. What needs Django is here: a note's title is rendered per language
(``note.inbox.note_wire`` under ``translation.override``), and a live note's
frame is built once for every socket of one language (``NoteFrames``).
"""

from __future__ import annotations

from typing import Any

from django.utils import translation

from note.inbox import note_wire
from notes_client import protocol


def note(
    payload: dict[str, Any],
    *,
    read: bool,
    language: str,
    archived: bool = False,
    muted: bool = False,
    channels_off: tuple[str, ...] = (),
) -> str:
    """The ``note`` frame of a stored note's payload, its title in ``language``;
    ``"muted": true`` when the reader muted its kind (or is not to be disturbed),
    else ``"channels_off": [...]`` naming the page's channels (toast, desktop)
    the reader turned off for its kind. A note that says neither is a v1 frame."""
    with translation.override(language):
        wire = note_wire(payload, read=read, archived=archived)
    if muted:
        wire["muted"] = True
    elif channels_off:
        wire["channels_off"] = list(channels_off)
    return protocol.note(wire)


def marks(preferences, kind: str) -> tuple[bool, tuple[str, ...]]:
    """What a reader's preferences add to a note of ``kind``: (muted, channels_off)."""
    if preferences.muted(kind):
        return True, ()
    return False, tuple(preferences.channels_off(kind))


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
        # Keyed by language, or (language, muted, channels_off) for the frame of
        # readers whose preferences mark it.
        self._text: dict[Any, str] = {}
        self._wire: dict[Any, bytes] = {}

    def text(self, language: str, muted: bool = False, channels_off: tuple[str, ...] = ()) -> str:
        key = (language, muted, channels_off) if muted or channels_off else language
        text = self._text.get(key)
        if text is None:
            text = self._text[key] = note(
                self.payload,
                read=False,
                language=language,
                muted=muted,
                channels_off=channels_off,
            )
        return text

    def wire(self, language: str, muted: bool = False, channels_off: tuple[str, ...] = ()) -> bytes:
        key = (language, muted, channels_off) if muted or channels_off else language
        data = self._wire.get(key)
        if data is None:
            data = self._wire[key] = server_text_frame(self.text(language, muted, channels_off))
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
