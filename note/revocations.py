"""What ends a user's access, heard from Django's model signals.

Each becomes a :func:`note.credentials.credential_change_record` in the
transaction that made it, so open sockets are re-checked once it commits:

- a token deleted (the admin, ``revoke_token``, a user's deletion cascading);
- a user's password or ``is_active`` changed, however it was saved (the
  password-change view, the admin, ``changepassword``, a script);
- a user deleted.

A save that touches neither (a login writing ``last_login``, a profile edit)
records nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_save

from note.credentials import credential_change_record
from note.models import ApiToken

WATCHED_FIELDS = ("password", "is_active")


def on_user_pre_save(sender: Any, instance, raw: bool = False, update_fields=None, **kwargs):
    """Compare the watched fields with the stored row (one read, only when they may change)."""
    instance._notes_credentials_changed = False
    if raw or instance.pk is None:
        return
    # Fields, not attributes: AbstractBaseUser has ``is_active = True`` without a column.
    columns = {field.attname for field in sender._meta.concrete_fields}
    watched = [f for f in WATCHED_FIELDS if f in columns]
    if update_fields is not None:
        watched = [f for f in watched if f in update_fields]
    if not watched:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values(*watched).first()
    if stored is not None:
        instance._notes_credentials_changed = any(
            stored[f] != getattr(instance, f) for f in watched
        )


def on_user_post_save(sender: Any, instance, created: bool = False, **kwargs):
    # After the row is written: in autocommit the change is visible before the log row.
    if getattr(instance, "_notes_credentials_changed", False):
        instance._notes_credentials_changed = False
        credential_change_record(user_key=str(instance.pk))


def on_user_deleted(sender: Any, instance, **kwargs):
    credential_change_record(user_key=str(instance.pk))


def on_token_deleted(sender: Any, instance: ApiToken, **kwargs):
    credential_change_record(user_key=str(instance.user_id))


def connect() -> None:
    User = get_user_model()
    pre_save.connect(on_user_pre_save, sender=User, dispatch_uid="note.credentials.pre")
    post_save.connect(on_user_post_save, sender=User, dispatch_uid="note.credentials.post")
    post_delete.connect(on_user_deleted, sender=User, dispatch_uid="note.credentials.deleted")
    post_delete.connect(on_token_deleted, sender=ApiToken, dispatch_uid="note.credentials.token")
