"""The inbox as other apps reach it: the one module of ``note`` that ``realtime`` imports.

Everything delivery needs from the inbox is named here (reads, the one write
a socket makes, the wire shape of a note, token checks, and the signals
``note`` sends after commit), so the rest of ``note`` can change freely and
``tests/test_layers.py`` can hold the line.
"""

from note.preferences import (
    NO_PREFERENCES,
    PreferenceError,
    Preferences,
    note_preferences,
    note_preferences_set,
)
from note.preferences import UNSET as PREFERENCE_UNSET
from note.retention import note_pruned_upto
from note.selectors import (
    note_archived_ids,
    note_last_id,
    note_list_after,
    note_list_visible,
    note_nth_newest_visible_id,
    note_read_ids,
    note_unread_and_last_id,
)
from note.serializers import note_payload, note_wire
from note.services import note_archive, note_mark_read, note_mark_unread
from note.signals import notes_changed, notes_committed, preferences_changed, unread_changed
from note.tokens import bearer_token, token_user

__all__ = [
    "NO_PREFERENCES",
    "PREFERENCE_UNSET",
    "PreferenceError",
    "Preferences",
    "bearer_token",
    "note_archive",
    "note_archived_ids",
    "note_last_id",
    "note_list_after",
    "note_list_visible",
    "note_mark_read",
    "note_mark_unread",
    "note_nth_newest_visible_id",
    "note_payload",
    "note_preferences",
    "note_preferences_set",
    "note_pruned_upto",
    "note_read_ids",
    "note_unread_and_last_id",
    "note_wire",
    "notes_changed",
    "notes_committed",
    "preferences_changed",
    "token_user",
    "unread_changed",
]
