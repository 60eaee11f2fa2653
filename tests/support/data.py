"""Committed test data for end-to-end tests (the server processes must see it)."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model

from note.tokens import token_issue


def make_user(prefix: str = "u", *, password: str | None = None):
    User = get_user_model()
    user = User.objects.create(username=f"{prefix}-{uuid.uuid4().hex[:8]}")
    if password:
        user.set_password(password)
        user.save()
    return user


def make_user_with_token(prefix: str = "u"):
    user = make_user(prefix)
    return user, token_issue(user=user)


async def adb(fn, /, *args, **kwargs):
    """Run ORM test code from an async test (Django refuses ORM calls on the event loop).

    ``database_sync_to_async`` closes the worker thread's connection afterwards,
    so PostgreSQL can drop the test database at the end.
    """
    from channels.db import database_sync_to_async

    return await database_sync_to_async(fn)(*args, **kwargs)
