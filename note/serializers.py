"""The one wire shape of a note, shared by the JSON API and the WebSocket.

A note travels in two steps: :func:`note_payload` turns a row into plain,
language-neutral data (what crosses the channel layer), and :func:`note_wire`
renders that data for one reader: the title in the active language and the
reader's ``read`` flag.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from django.utils.translation import gettext

from note.models import Note


def note_payload(note: Note) -> dict[str, Any]:
    created = note.created.astimezone(UTC).isoformat(timespec="milliseconds")
    return {
        "id": note.id,
        "kind": note.kind,
        "title": note.title,
        "title_template": note.title_template,
        "title_params": note.title_params,
        "content": note.content,
        "url": note.url,
        "actor": note.actor.get_username() if note.actor_id else None,
        "recipient_id": note.recipient_id,
        "created": created.replace("+00:00", "Z"),
        "data": note.data,
    }


def note_wire(payload: dict[str, Any], *, read: bool, archived: bool = False) -> dict[str, Any]:
    """The note as a reader gets it. ``data`` is there only when the note has
    some, ``archived`` only when this reader archived it, so a plain note is
    byte for byte what protocol v1 sent."""
    title = payload["title"]
    if payload["title_template"]:
        try:
            title = gettext(payload["title_template"]) % payload["title_params"]
        except (KeyError, TypeError, ValueError):
            pass  # a broken translation must not hide the note: keep the stored title
    wire = {
        "id": payload["id"],
        "kind": payload["kind"],
        "title": title,
        "content": payload["content"],
        "url": payload["url"],
        "actor": payload["actor"],
        "public": payload["recipient_id"] is None,
        "created": payload["created"],
        "read": read,
    }
    data = payload.get("data")  # absent from an older process's payload
    if data:
        wire["data"] = data
    if archived:
        wire["archived"] = True
    return wire


def notes_wire(
    notes: list[Note], *, read_ids: set[int], archived_ids: set[int] = frozenset()
) -> list[dict[str, Any]]:
    return [
        note_wire(note_payload(n), read=n.id in read_ids, archived=n.id in archived_ids)
        for n in notes
    ]


def note_wire_size(note: Note) -> int:
    """Bytes of the note's JSON as the protocol sends it (UTF-8, compact), unread."""
    wire = note_wire(note_payload(note), read=False)
    return len(json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode())
