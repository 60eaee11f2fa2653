"""What a socket was opened with, whether that still holds, and the log of changes.

A WebSocket outlives the check made at its handshake. So every change that can
end a user's access writes a :class:`~note.models.CredentialChange` row in the
transaction that makes it (a token deleted, the password or ``is_active``
changed, the user deleted, an admin's "log out everywhere"), and sends
``credentials_changed`` after commit. Delivery (``realtime``) then re-checks
that user's open sockets with :func:`credentials_still_valid`, which asks the
same questions as the handshake did: so a socket is closed exactly when a new
handshake with the same credential would be refused, and the current session
of a user who changed their own password (Django updates its hash) stays.
Expiry writes nothing either: a socket knows its token's expiry, reads its
session's (:func:`session_expires`), and closes itself then.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from note.models import ApiToken, CredentialChange
from note.signals import credentials_changed
from note.tokens import token_live

# How far back each server process reads the log. A change is also announced
# over the channel layer at once; this is the path when that layer is down, so
# it covers clock skew between hosts and a change's transaction running long.
CHANGES_LOOKBACK = datetime.timedelta(seconds=120)
# Rows older than this are deleted as new ones are written.
CHANGES_KEPT = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Credential:
    """A socket's proof of who it is: a token (``token_id``) or a session (``session_key``).

    ``expires`` is the token's expiry, for the socket's own timer.
    """

    user_key: str
    token_id: int | None = None
    session_key: str | None = None
    expires: datetime.datetime | None = None

    @classmethod
    def of_token(cls, token: ApiToken) -> Credential:
        return cls(user_key=str(token.user_id), token_id=token.pk, expires=token.expires)

    @classmethod
    def of_session(cls, user: AbstractBaseUser, session_key: str) -> Credential:
        return cls(user_key=str(user.pk), session_key=session_key)


def credentials_still_valid(credentials: list[Credential]) -> list[bool]:
    """For each credential, would a new handshake with it still be accepted?

    One query for all the tokens; one session read per session credential.
    Called by delivery when a user's credentials changed, for that user's sockets.
    """
    token_ids = [c.token_id for c in credentials if c.token_id is not None]
    live_tokens = set()
    if token_ids:
        live_tokens = set(
            token_live().filter(pk__in=token_ids, user__is_active=True).values_list("pk", flat=True)
        )
    return [
        c.token_id in live_tokens if c.token_id is not None else _session_valid(c)
        for c in credentials
    ]


def _session_valid(credential: Credential) -> bool:
    """``django.contrib.auth.get_user`` for a stored session, without its side effects
    (it would flush a session that fails the check; this only reads)."""
    if not credential.session_key:
        return False
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(credential.session_key)
    data: dict[str, Any] = session.load()
    if str(data.get(SESSION_KEY)) != credential.user_key:
        return False
    backend_path = data.get(BACKEND_SESSION_KEY)
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return False
    user = load_backend(backend_path).get_user(
        get_user_model()._meta.pk.to_python(data[SESSION_KEY])
    )
    if user is None:
        return False  # deleted, or refused by the backend (inactive)
    if not hasattr(user, "get_session_auth_hash"):
        return True
    stored = data.get(HASH_SESSION_KEY)
    if not stored:
        return False
    return constant_time_compare(stored, user.get_session_auth_hash()) or any(
        constant_time_compare(stored, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    )


def session_expires(*, session_key: str) -> datetime.datetime | None:
    """When the stored session ``session_key`` ends; None if it already has (expired,
    logged out, deleted by ``clearsessions``).

    A database-backed engine (``db``, the default, or ``cached_db``) answers
    with the row's ``expire_date``: one indexed read, and the date a later save
    moved (``SESSION_SAVE_EVERY_REQUEST``, ``set_expiry`` in another tab), not
    the cookie's. Other engines keep no date to read: the session's own expiry
    counted from now, so their sockets close up to one session age late.
    """
    engine = import_module(settings.SESSION_ENGINE)
    store = engine.SessionStore
    now = timezone.now()
    if hasattr(store, "get_model_class"):
        expires = (
            store.get_model_class()
            .objects.filter(session_key=session_key)
            .values_list("expire_date", flat=True)
            .first()
        )
    else:
        session = store(session_key)
        expires = session.get_expiry_date() if session.load() else None
    return expires if expires is not None and expires > now else None


def credential_change_record(*, user_key: str) -> None:
    """Note that ``user_key``'s credentials changed, in the caller's transaction.

    The row is what every server process finds on its periodic catch-up; the
    signal after commit is the fast path (``realtime`` announces it at once).
    """
    now = timezone.now()
    CredentialChange.objects.create(user_key=user_key, at=now)
    CredentialChange.objects.filter(at__lt=now - CHANGES_KEPT).delete()
    transaction.on_commit(
        lambda: credentials_changed.send(sender=CredentialChange, user_key=user_key),
        robust=True,
    )


def credential_changes_since(*, seen: set[int]) -> list[tuple[int, str]]:
    """(id, user_key) of the recent changes not in ``seen``, oldest first.

    Read by each server process once a catch-up period (and before delivering
    a private note), so this is one indexed range read of a small table.
    """
    since = timezone.now() - CHANGES_LOOKBACK
    rows = CredentialChange.objects.filter(at__gte=since).order_by("id")
    return [(pk, key) for pk, key in rows.values_list("id", "user_key") if pk not in seen]


def credential_change_users_since(*, since: datetime.datetime) -> set[str]:
    """The user keys with a change recorded at or after ``since`` (at most ``CHANGES_KEPT`` back).

    Read once when a server process starts, so that it knows whose cached
    credentials (``realtime.tokencache``) predate a change it never heard of.
    """
    since = max(since, timezone.now() - CHANGES_KEPT)
    rows = CredentialChange.objects.filter(at__gte=since)
    return set(rows.values_list("user_key", flat=True).distinct())


def credentials_end_all(*, user: AbstractBaseUser, tokens: bool = True) -> tuple[int, int]:
    """Log ``user`` out everywhere: end every session (and token), close every socket.

    Returns (sessions ended, tokens revoked). Sessions are found only in a
    database-backed session store (``db`` or ``cached_db``, Django's default);
    with another engine this raises ``ValueError`` before changing anything.
    """
    engine = import_module(settings.SESSION_ENGINE)
    store = engine.SessionStore
    model = store.get_model_class() if hasattr(store, "get_model_class") else None
    if model is None:
        raise ValueError(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} keeps no list of sessions to end; "
            "use django.contrib.sessions.backends.db or cached_db"
        )
    key = str(user.pk)
    ended = 0
    with transaction.atomic():
        for session in model.objects.filter(expire_date__gt=timezone.now()).iterator():
            if str(session.get_decoded().get(SESSION_KEY)) == key:
                store(session.session_key).delete()  # also drops cached_db's cache entry
                ended += 1
        revoked = 0
        if tokens:
            revoked, _ = ApiToken.objects.filter(user=user).delete()
        credential_change_record(user_key=key)
    return ended, revoked
