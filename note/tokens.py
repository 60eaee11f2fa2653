"""Issuing and checking API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from note.models import ApiToken

TOKEN_PREFIX = "rtn_"
MAX_TOKEN_LENGTH = 200


def token_issue(*, user: AbstractBaseUser) -> str:
    """Create a token for ``user`` and return it; it cannot be shown again."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=_hash(raw), prefix=raw[:12])
    return raw


def token_user(raw: str) -> AbstractBaseUser | None:
    """The active user a token belongs to, or None for any bad token."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(raw), user__is_active=True)
        .first()
    )
    return token.user if token is not None else None


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


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
