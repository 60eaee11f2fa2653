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
    # Limits (note.limits): a rate "count/window" (window in s, m or h), or None
    # for no limit. Login attempts count every POST to the login view, before
    # any password is hashed.
    "NOTES_LIMIT_LOGIN_PER_ADDRESS": "30/5m",
    "NOTES_LIMIT_LOGIN_PER_USERNAME": "10/5m",
    "NOTES_LIMIT_PUBLISH_PER_USER": "30/1m",
    "NOTES_LIMIT_MARK_READ_PER_USER": "120/1m",
    "NOTES_LIMIT_HANDSHAKES_PER_ADDRESS": "50/1s",
    "NOTES_LIMIT_HANDSHAKES_PER_USER": "10/1s",
    # Open WebSockets one user may hold across all processes, or None.
    "NOTES_LIMIT_SOCKETS_PER_USER": 30,
    # Where the limits count: None counts in each process alone; a Redis URL
    # (or {"sentinels": [(host, port)], "master_name": ...}) shares the counts.
    "NOTES_LIMITS_REDIS": None,
    "NOTES_LIMITS_PREFIX": "notes-limits",
    # Peers whose X-Forwarded-For is believed (addresses or networks such as
    # "10.0.0.0/8"); the client's address is then taken from it.
    "NOTES_TRUSTED_PROXIES": (),
    # ApiToken.last_used is written at most once per this many seconds per token.
    "NOTES_TOKEN_LAST_USED_SECONDS": 300,
    # How long a connect ticket (POST api/notes/ticket/) opens a socket.
    "NOTES_TICKET_SECONDS": 30,
    # How long a note may stay pending (committed, not yet given its id:
    # note.stamping) before a sweep stamps it. Its sender stamps it at once;
    # this covers a sender that died between its commit and its stamp.
    "NOTES_STAMP_SWEEP_SECONDS": 2.0,
    # The largest ``data`` a note may carry, in UTF-8 bytes of its JSON (it
    # counts towards NOTES_MAX_NOTE_BYTES too).
    "NOTES_MAX_DATA_BYTES": 8 * 1024,
    # Kinds that are muted until a user turns them on (note.preferences).
    "NOTES_OPT_IN_KINDS": (),
    # The channels each kind reaches a user by until the user chooses
    # (note.preferences): kind -> channels among "toast", "desktop", "email";
    # "*" stands for every kind not named. A kind the mapping does not cover
    # (no "*") goes nowhere by default.
    "NOTES_CHANNEL_DEFAULTS": {"*": ("toast", "desktop", "email")},
    # Retention (manage.py prune_notes): notes older than this many days, and
    # each user's private notes past their newest this many. None keeps all.
    "NOTES_RETENTION_DAYS": None,
    "NOTES_RETENTION_PER_USER": None,
    # Presence (note.presence): how often each server process writes "still
    # connected" for its users, in one batched UPDATE. A process that dies
    # stops writing, so its users count as away this long after at most.
    "NOTES_PRESENCE_SECONDS": 60,
    # Email digests (note.digest, manage.py send_digests). A user not connected
    # for NOTES_DIGEST_AWAY_SECONDS gets one email of their unread notes, at
    # most once per NOTES_DIGEST_PERIOD_SECONDS.
    "NOTES_DIGEST_AWAY_SECONDS": 3600,
    "NOTES_DIGEST_PERIOD_SECONDS": 24 * 3600,
    # The site's address for the links in the email (no request to take it from).
    "NOTES_DIGEST_BASE_URL": "",
    # None: Django's DEFAULT_FROM_EMAIL.
    "NOTES_DIGEST_FROM_EMAIL": None,
    # Notes one email lists (newest first); it counts the rest.
    "NOTES_DIGEST_MAX_NOTES": 20,
    # Users one batch of the worker claims and mails.
    "NOTES_DIGEST_BATCH": 100,
    # A claimed user is another worker's again after this (a worker that died).
    "NOTES_DIGEST_LEASE_SECONDS": 300,
    # After a failed send, the first retry waits this long, doubling up to an hour.
    "NOTES_DIGEST_RETRY_SECONDS": 60,
    # How long the unsubscribe link of an email works.
    "NOTES_DIGEST_UNSUBSCRIBE_SECONDS": 30 * 24 * 3600,
    # How often ``send_digests --loop`` looks for users to mail.
    "NOTES_DIGEST_INTERVAL_SECONDS": 60,
    # Outbound webhooks (note.webhooks, docs/webhooks.md). One POST may take
    # this long (connect, send, and the capped read of the answer).
    "NOTES_WEBHOOK_TIMEOUT_SECONDS": 10.0,
    # Bytes of a receiver's answer read (the rest is not read); an error
    # keeps its first 500 characters for the admin.
    "NOTES_WEBHOOK_MAX_RESPONSE_BYTES": 64 * 1024,
    # POSTs one worker process has in flight at once.
    "NOTES_WEBHOOK_CONCURRENCY": 4,
    # Deliveries queued for one endpoint; when full, its cursor waits (the
    # notes stay in the inbox) until the queue drains.
    "NOTES_WEBHOOK_QUEUE_PER_ENDPOINT": 10_000,
    # The largest body sent; a note past it is sent without content and data,
    # with "truncated": true.
    "NOTES_WEBHOOK_MAX_PAYLOAD_BYTES": 64 * 1024,
    # Back-off between tries of a failing endpoint: base * 2**(failures - 1),
    # at most the cap, each drawn between half and all of that (jitter).
    "NOTES_WEBHOOK_RETRY_BASE_SECONDS": 5.0,
    "NOTES_WEBHOOK_RETRY_MAX_SECONDS": 600.0,
    # An endpoint is disabled (with the reason logged and in the admin) once it
    # has failed this many times in a row AND for at least this long.
    "NOTES_WEBHOOK_DISABLE_AFTER_FAILURES": 20,
    "NOTES_WEBHOOK_DISABLE_AFTER_SECONDS": 24 * 3600,
    # How often an idle worker looks for new notes and due retries.
    "NOTES_WEBHOOK_POLL_SECONDS": 1.0,
}


def __getattr__(name: str) -> Any:
    key = f"NOTES_{name}"
    if key not in DEFAULTS:
        raise AttributeError(f"no setting {key}")
    return getattr(settings, key, DEFAULTS[key])
