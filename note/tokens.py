"""API tokens: issuing, checking, listing and revoking them.

A token is shown once, when it is issued; only its SHA-256 is stored. It may
carry a name (what it is for) and an expiry. ``last_used`` is written at most
once per ``NOTES_TOKEN_LAST_USED_SECONDS`` per token, so a client that
reconnects all day costs a read per connection, not a write.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from note import conf
from note.models import ApiToken
from note.signals import token_issued

TOKEN_PREFIX = "rtn_"
MAX_TOKEN_LENGTH = 200


def token_issue(
    *,
    user: AbstractBaseUser,
    name: str = "",
    expires: datetime.datetime | None = None,
) -> str:
    """Create a token for ``user`` and return it; it cannot be shown again.

    After commit ``token_issued`` says so (with the token's id and hash, never
    the token), so that delivery can cache it before its first connect.
    """
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key_hash = secret_hash(raw)
    token = ApiToken.objects.create(
        user=user, key_hash=key_hash, prefix=raw[:12], name=name, expires=expires
    )
    transaction.on_commit(
        lambda: token_issued.send(sender=ApiToken, token_id=token.pk, key_hash=key_hash),
        robust=True,
    )
    return raw


def token_authenticate(raw: str) -> ApiToken | None:
    """The live token (with its active user) that ``raw`` is, or None for any bad,
    expired or revoked token. Notes its use in ``last_used`` now and then."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    now = timezone.now()
    token = (
        token_live(now=now)
        .select_related("user")
        .filter(key_hash=secret_hash(raw), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    every = datetime.timedelta(seconds=conf.TOKEN_LAST_USED_SECONDS)
    if token.last_used is None or token.last_used <= now - every:
        # Conditional, so that many processes seeing the same stale value write once.
        ApiToken.objects.filter(pk=token.pk, last_used=token.last_used).update(last_used=now)
        token.last_used = now
    return token


def token_live_by_id(*, token_id: int) -> ApiToken | None:
    """The token ``token_id`` (with its user) if it is live and its user active, else None.

    What ``token_authenticate`` would answer for it, without noting a use: read
    after ``token_issued`` by a cache that wants the token before its first use.
    """
    return token_live().select_related("user").filter(pk=token_id, user__is_active=True).first()


def token_user(raw: str) -> AbstractBaseUser | None:
    """The active user a live token belongs to, or None for any bad token."""
    token = token_authenticate(raw)
    return token.user if token is not None else None


def token_live(*, now: datetime.datetime | None = None) -> QuerySet[ApiToken]:
    """Tokens that have not expired."""
    now = now or timezone.now()
    return ApiToken.objects.filter(Q(expires__isnull=True) | Q(expires__gt=now))


def token_list(*, user: AbstractBaseUser | None = None) -> QuerySet[ApiToken]:
    """Tokens, newest first, of ``user`` or of everyone."""
    tokens = ApiToken.objects.select_related("user").order_by("-created", "-id")
    return tokens if user is None else tokens.filter(user=user)


def token_revoke(*, token: ApiToken) -> None:
    """Delete ``token``: from the commit on, its sockets close in every process
    (``note.credentials`` records the change)."""
    token.delete()


def token_find(reference: str) -> ApiToken:
    """A token by its id or the prefix ``token_list`` shows; ``ApiToken.DoesNotExist`` if none,
    ``ValueError`` if a prefix names several."""
    reference = reference.strip().rstrip("…")
    if reference.isdigit():
        return ApiToken.objects.get(pk=int(reference))
    matches = list(ApiToken.objects.filter(prefix__startswith=reference)[:2])
    if len(matches) > 1:
        raise ValueError(f"several tokens start with {reference!r}: give the id")
    if not matches:
        raise ApiToken.DoesNotExist(reference)
    return matches[0]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; '' when malformed."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


def user_by_name(username: str, *, create: bool = False) -> AbstractBaseUser:
    User = get_user_model()
    if create:
        user, _ = User.objects.get_or_create(**{User.USERNAME_FIELD: username})
        return user
    return User.objects.get(**{User.USERNAME_FIELD: username})


def secret_hash(raw: str) -> str:
    """How tokens and tickets are stored: 256-bit random strings need no slow hash."""
    return hashlib.sha256(raw.encode()).hexdigest()
