"""The inbox as other apps reach it: the one module of ``note`` that ``realtime`` imports.

Everything delivery needs from the inbox is named here (reads, the one write
a socket makes, the wire shape of a note, token, ticket and credential checks, and the signals
``note`` sends after commit), so the rest of ``note`` can change freely and
``tests/test_layers.py`` can hold the line.
"""

from note.addresses import request_address, scope_address, scope_is_from_trusted_proxy
from note.counters import redis_client
from note.credentials import (
    CHANGES_KEPT,
    CHANGES_LOOKBACK,
    Credential,
    credential_change_users_since,
    credential_changes_since,
    credentials_still_valid,
    session_expires,
)
from note.deletion import note_delete
from note.limits import Limited, acheck, shared_redis, socket_acquire
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
    token_issued,
    unread_changed,
)
from note.stamping import note_sweep_pending
from note.tickets import ticket_redeem
from note.tokens import (
    MAX_TOKEN_LENGTH,
    bearer_token,
    secret_hash,
    token_authenticate,
    token_live_by_id,
    token_user,
)
from note.webhooks.queue import webhook_queue_stats

__all__ = [
    "CHANGES_KEPT",
    "CHANGES_LOOKBACK",
    "MAX_TOKEN_LENGTH",
    "NO_PREFERENCES",
    "PREFERENCE_UNSET",
    "Credential",
    "Limited",
    "PreferenceError",
    "Preferences",
    "acheck",
    "bearer_token",
    "credential_change_users_since",
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
    "redis_client",
    "request_address",
    "scope_address",
    "scope_is_from_trusted_proxy",
    "secret_hash",
    "session_expires",
    "shared_redis",
    "socket_acquire",
    "ticket_redeem",
    "token_authenticate",
    "token_issued",
    "token_live_by_id",
    "token_user",
    "unread_changed",
    "webhook_queue_stats",
]
