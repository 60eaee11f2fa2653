"""What ``realtime`` listens to: the inbox's after-commit signals (notes, read
state, credential changes), and logouts.

Connected in ``RealtimeConfig.ready``. Each receiver only queues an event
for the channel layer (``realtime.publisher``) and returns: the sender's
transaction has committed and its request must not wait on Redis.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out

from note import inbox
from realtime.publisher import (
    publish_changed,
    publish_credentials_changed,
    publish_logout,
    publish_notes,
    publish_preferences,
    publish_unread,
)
from realtime.tokencache import cache_issued_token


def on_notes_committed(sender: Any, *, notes, **kwargs: Any) -> None:
    publish_notes(notes)


def on_unread_changed(
    sender: Any, *, user_id: int, count: int, origin: str | None = None, **kwargs: Any
) -> None:
    publish_unread(user_id=user_id, count=count, origin=origin)


def on_notes_changed(
    sender: Any,
    *,
    user_id: int,
    ids: list[int],
    change: dict[str, bool],
    origin: str | None = None,
    **kwargs: Any,
) -> None:
    publish_changed(user_id=user_id, ids=ids, change=change, origin=origin)


def on_preferences_changed(
    sender: Any, *, user_id: int, preferences: dict, origin: str | None = None, **kwargs: Any
) -> None:
    publish_preferences(user_id=user_id, preferences=preferences, origin=origin)


def on_logged_out(sender: Any, request=None, user=None, **kwargs: Any) -> None:
    """Logging out closes that session's open WebSockets, in every server process.

    Called before Django flushes the session, so its key is still known.
    """
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        publish_logout(session_key=session.session_key)


def on_credentials_changed(sender: Any, *, user_key: str, **kwargs: Any) -> None:
    """A token ended, a password or ``is_active`` changed, a user was deleted or logged
    out everywhere: every process re-checks that user's sockets (``Hub``). With the
    layer down, each process finds the change in the database on its catch-up."""
    publish_credentials_changed(user_key=user_key)


def on_token_issued(sender: Any, *, token_id: int, key_hash: str, **kwargs: Any) -> None:
    """Cache the new token, so its first handshake needs no database. The one receiver
    here that waits: a read of the token and a Redis write, each bounded
    (``note.counters.REDIS_TIMEOUT_SECONDS``), once per issued token."""
    cache_issued_token(token_id=token_id, key_hash=key_hash)


def connect() -> None:
    inbox.notes_committed.connect(on_notes_committed, dispatch_uid="realtime.notes_committed")
    inbox.unread_changed.connect(on_unread_changed, dispatch_uid="realtime.unread_changed")
    inbox.notes_changed.connect(on_notes_changed, dispatch_uid="realtime.notes_changed")
    inbox.preferences_changed.connect(
        on_preferences_changed, dispatch_uid="realtime.preferences_changed"
    )
    user_logged_out.connect(on_logged_out, dispatch_uid="realtime.logout")
    inbox.credentials_changed.connect(
        on_credentials_changed, dispatch_uid="realtime.credentials_changed"
    )
    inbox.token_issued.connect(on_token_issued, dispatch_uid="realtime.token_issued")
