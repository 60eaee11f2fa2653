"""Connect tickets: a one-use pass to open one WebSocket, for apps not served by Django.

An SPA or a mobile app that has logged in over HTTP (a session, or a token it
keeps server-side) asks ``POST api/notes/ticket/`` for a ticket and opens
``/ws/notes/?ticket=<ticket>`` within ``NOTES_TICKET_SECONDS``. The ticket
works once; the socket it opens then lives by the credential the ticket was
made with, so ending that session or token closes it like any other.
"""

from __future__ import annotations

import datetime
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from note import conf
from note.credentials import Credential, credentials_still_valid
from note.models import ApiToken, ConnectTicket
from note.tokens import secret_hash

TICKET_PREFIX = "rtt_"
MAX_TICKET_LENGTH = 100


def ticket_issue(
    *, user: AbstractBaseUser, token: ApiToken | None = None, session_key: str | None = None
) -> str:
    """A new ticket for ``user``, made under ``token`` or ``session_key`` (one of them)."""
    if (token is None) == (session_key is None):
        raise ValueError("a ticket is made under a token or a session, exactly one")
    now = timezone.now()
    ConnectTicket.objects.filter(expires__lt=now).delete()  # the unused ones, long gone
    raw = TICKET_PREFIX + secrets.token_urlsafe(32)
    ConnectTicket.objects.create(
        key_hash=secret_hash(raw),
        user=user,
        token=token,
        session_key=session_key or "",
        expires=now + datetime.timedelta(seconds=conf.TICKET_SECONDS),
    )
    return raw


def ticket_redeem(raw: str) -> tuple[AbstractBaseUser, Credential] | None:
    """The user and credential behind ``raw``, using it up; None when the ticket is
    unknown, used, expired, or its session or token has ended since."""
    if not raw or len(raw) > MAX_TICKET_LENGTH:
        return None
    ticket = (
        ConnectTicket.objects.select_related("user", "token")
        .filter(key_hash=secret_hash(raw), expires__gt=timezone.now())
        .first()
    )
    if ticket is None:
        return None
    used, _ = ConnectTicket.objects.filter(pk=ticket.pk).delete()
    if not used:
        return None  # another handshake used it first
    if ticket.token is not None:
        credential = Credential.of_token(ticket.token)
    else:
        credential = Credential.of_session(ticket.user, ticket.session_key)
    if not ticket.user.is_active or not credentials_still_valid([credential])[0]:
        return None
    return ticket.user, credential
