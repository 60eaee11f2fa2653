"""The inbox as other apps reach it: the one module of ``note`` that ``realtime`` imports.

Everything delivery needs from the inbox is named here (reads, the one write
a socket makes, the wire shape of a note, token, ticket and credential checks, and the signals
``note`` sends after commit), so the rest of ``note`` can change freely and
``tests/test_layers.py`` can hold the line.
"""

from note.addresses import request_address, scope_address, scope_is_from_trusted_proxy
from note.credentials import (
    CHANGES_LOOKBACK,
    Credential,
    credential_changes_since,
    credentials_still_valid,
    session_expires,
)
from note.deletion import note_delete
from note.limits import Limited, acheck, socket_acquire
from note.preferences import (
    NO_PREFERENCES,
    PreferenceError,
    Preferences,
    note_preferences,
    note_preferences_set,
)
from note.preferences import UNSET as PREFERENCE_UNSET
from note.presence import note_presence_record, presence_seconds
from note.retention import note_pruned_upto
from note.selectors import (
    note_archived_ids,
    note_last_id,
    note_list_after,
    note_list_visible,
    note_nth_newest_visible_id,
    note_read_ids,
    note_replay_page,
    note_unread_and_last_id,
)
from note.serializers import note_payload, note_wire
from note.services import note_archive, note_mark_read, note_mark_unread
from note.signals import (
    credentials_changed,
    notes_changed,
    notes_committed,
    preferences_changed,
    unread_changed,
)
from note.stamping import note_sweep_pending
from note.tickets import ticket_redeem
from note.tokens import bearer_token, token_authenticate, token_user
from note.webhooks.queue import webhook_queue_stats

__all__ = [
    "CHANGES_LOOKBACK",
    "NO_PREFERENCES",
    "PREFERENCE_UNSET",
    "Credential",
    "Limited",
    "PreferenceError",
    "Preferences",
    "acheck",
    "bearer_token",
    "credential_changes_since",
    "credentials_changed",
    "credentials_still_valid",
    "note_archive",
    "note_archived_ids",
    "note_delete",
    "note_last_id",
    "note_list_after",
    "note_list_visible",
    "note_mark_read",
    "note_mark_unread",
    "note_nth_newest_visible_id",
    "note_payload",
    "note_preferences",
    "note_preferences_set",
    "note_presence_record",
    "note_pruned_upto",
    "note_read_ids",
    "note_replay_page",
    "note_sweep_pending",
    "note_unread_and_last_id",
    "note_wire",
    "notes_changed",
    "notes_committed",
    "preferences_changed",
    "presence_seconds",
    "request_address",
    "scope_address",
    "scope_is_from_trusted_proxy",
    "session_expires",
    "socket_acquire",
    "ticket_redeem",
    "token_authenticate",
    "token_user",
    "unread_changed",
    "webhook_queue_stats",
]
