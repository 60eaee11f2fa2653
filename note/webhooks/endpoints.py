"""Registering endpoints: the services behind ``manage.py webhooks`` and the admin.

Each raises :class:`EndpointError` with a message fit for a person when an
argument is unusable, so the command and the admin answer bad input plainly.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from note.models import Note
from note.webhooks.models import WebhookEndpoint

log = logging.getLogger(__name__)

NAME = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
KIND_MAX = Note._meta.get_field("kind").max_length
VISIBILITIES = [value for value, _ in WebhookEndpoint.VISIBILITY_CHOICES]


class EndpointError(ValueError):
    """An endpoint argument that cannot be used; the message says why."""


def webhook_secret_new() -> str:
    """A fresh signing secret: 256 random bits, URL-safe text."""
    return "whsec_" + secrets.token_urlsafe(32)


def endpoint_validate_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise EndpointError(f"{url!r} is not an http:// or https:// URL") from None
    if len(url) > 500:
        raise EndpointError("the URL is longer than 500 characters")
    return url


def endpoint_validate_kinds(kinds: Iterable[str] | str | None) -> list[str]:
    """Kinds as a list (a string is comma-separated); empty means every kind."""
    if kinds is None:
        return []
    if isinstance(kinds, str):
        kinds = kinds.split(",")
    if not isinstance(kinds, list | tuple):
        raise EndpointError("kinds must be a list of strings")
    cleaned: list[str] = []
    for kind in kinds:
        if not isinstance(kind, str):
            raise EndpointError(f"a kind must be text, not {kind!r}")
        kind = kind.strip()
        if not kind:
            continue
        if len(kind) > KIND_MAX:
            raise EndpointError(f"the kind {kind[:20]!r}... is longer than {KIND_MAX} characters")
        if kind not in cleaned:
            cleaned.append(kind)
    if len(cleaned) > 100:
        raise EndpointError("at most 100 kinds per endpoint")
    return cleaned


def endpoint_validate_visibility(visibility: str) -> str:
    if visibility not in VISIBILITIES:
        raise EndpointError(
            f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}"
        )
    return visibility


def endpoint_validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise EndpointError(f"{name!r} is not a usable name: 1 to 100 letters, digits, '-' or '_'")
    return name


def note_newest_id() -> int:
    """The newest stamped note id: where a new endpoint's cursor starts."""
    return Note.objects.filter(id__gt=0).aggregate(newest=Max("id"))["newest"] or 0


def endpoint_create(
    *,
    name: str,
    url: str,
    kinds: Iterable[str] | str | None = None,
    visibility: str = WebhookEndpoint.PUBLIC,
    enabled: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint; it receives the notes committed from now on.

    Its secret is made here: the caller shows it to the person once.
    """
    endpoint = WebhookEndpoint(
        name=endpoint_validate_name(name),
        url=endpoint_validate_url(url),
        kinds=endpoint_validate_kinds(kinds),
        visibility=endpoint_validate_visibility(visibility),
        enabled=enabled,
        secret=webhook_secret_new(),
        cursor=note_newest_id(),
    )
    with transaction.atomic():
        if WebhookEndpoint.objects.filter(name=endpoint.name).exists():
            raise EndpointError(f"an endpoint named {name!r} exists already")
        endpoint.save()
    return endpoint


def endpoint_get(name: str) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.objects.get(name=name)
    except WebhookEndpoint.DoesNotExist:
        raise EndpointError(f"no endpoint named {name!r} (see: manage.py webhooks list)") from None


def endpoint_enable(*, endpoint: WebhookEndpoint, skip_missed: bool = False) -> WebhookEndpoint:
    """Turn delivery back on, with a clean bill of health.

    The notes committed while it was off are delivered too, unless
    ``skip_missed``: then its cursor jumps to now (queued deliveries stay).
    """
    changes = {
        "enabled": True,
        "disabled_reason": "",
        "consecutive_failures": 0,
        "failing_since": None,
        "retry_at": None,
    }
    if skip_missed:
        changes["cursor"] = note_newest_id()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
        # Its queue's back-off ends too (rows a worker holds keep their lease).
        endpoint.deliveries.filter(claim="").update(next_attempt_at=timezone.now())
    endpoint.refresh_from_db()
    log.info("webhook_enabled endpoint=%s skip_missed=%s", endpoint.name, skip_missed)
    return endpoint


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> WebhookEndpoint:
    """Stop delivery; queued deliveries are kept for when it is enabled again."""
    reason = reason[:500]
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason)
    endpoint.refresh_from_db()
    log.warning("webhook_disabled endpoint=%s reason=%s", endpoint.name, reason)
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret for the endpoint, returned to be shown once; the old one stops at once."""
    secret = webhook_secret_new()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    endpoint.secret = secret
    return secret


def endpoint_remove(*, endpoint: WebhookEndpoint) -> int:
    """Delete the endpoint and its queue; returns how many queued deliveries went with it."""
    queued = endpoint.deliveries.count()
    endpoint.delete()
    log.info("webhook_removed endpoint=%s dropped=%d", endpoint.name, queued)
    return queued
