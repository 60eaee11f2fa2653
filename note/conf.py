"""The inbox's settings. Each is a Django setting of the name below; unset, the default holds.

Read at the moment of use (``conf.MAX_NOTE_BYTES`` reads ``NOTES_MAX_NOTE_BYTES``),
so ``override_settings`` works. ``note.checks`` says when one is unusable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The largest note that may be created, in UTF-8 bytes of its JSON, so that
    # its frame stays under the 64 KiB every client may rely on.
    "NOTES_MAX_NOTE_BYTES": 60 * 1024,
    # The largest ``data`` a note may carry, in UTF-8 bytes of its JSON (it
    # counts towards NOTES_MAX_NOTE_BYTES too).
    "NOTES_MAX_DATA_BYTES": 8 * 1024,
    # Kinds that are muted until a user turns them on (note.preferences).
    "NOTES_OPT_IN_KINDS": (),
    # Retention (manage.py prune_notes): notes older than this many days, and
    # each user's private notes past their newest this many. None keeps all.
    "NOTES_RETENTION_DAYS": None,
    "NOTES_RETENTION_PER_USER": None,
}


def __getattr__(name: str) -> Any:
    key = f"NOTES_{name}"
    if key not in DEFAULTS:
        raise AttributeError(f"no setting {key}")
    return getattr(settings, key, DEFAULTS[key])
