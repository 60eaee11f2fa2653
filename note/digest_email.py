"""The digest email: its text and HTML parts, its subject and its unsubscribe link.

Rendered from ``note/templates/note/digest/`` in the user's language: that of
their latest WebSocket connection (``note.presence``, the browser's
``Accept-Language``), else ``LANGUAGE_CODE``. The HTML part autoescapes, so a
note titled ``<img onerror=…>`` shows as that text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_supported_language_variant, ngettext

from note import conf
from note.models import Note
from note.serializers import note_payload, note_wire
from note.unsubscribe import unsubscribe_token

CONTENT_CHARS = 280


@dataclass(frozen=True)
class DigestNote:
    """One note as the email shows it (its title rendered in the email's language)."""

    note: Note

    @classmethod
    def of(cls, note: Note) -> DigestNote:
        return cls(note)

    def context(self) -> dict:
        wire = note_wire(note_payload(self.note), read=False)
        content = wire["content"]
        if len(content) > CONTENT_CHARS:
            content = content[: CONTENT_CHARS - 1] + "…"
        return {
            "title": wire["title"],
            "content": content,
            "url": absolute_url(wire["url"]),
            "actor": wire["actor"],
            "created": self.note.created,
        }


def absolute_url(url: str) -> str:
    """A note's url as a link in an email: a site path gets the site's address; only
    http(s) links are kept (no ``javascript:`` in anyone's mailbox)."""
    if not url:
        return ""
    if url.startswith("/") and not url.startswith("//"):
        return conf.DIGEST_BASE_URL.rstrip("/") + url
    return url if urlsplit(url).scheme in {"http", "https"} else ""


def email_language(language: str | None) -> str:
    try:
        return get_supported_language_variant(language or settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE


def digest_message(
    *,
    user,
    notes: list[DigestNote],
    more: int,
    more_beyond: bool,
    language: str | None,
    sent: datetime | None = None,
) -> EmailMultiAlternatives:
    """The email for ``user`` listing ``notes`` (newest first) and counting ``more``."""
    base = conf.DIGEST_BASE_URL.rstrip("/")
    unsubscribe_url = base + reverse("notes:unsubscribe", args=[unsubscribe_token(user=user)])
    with translation.override(email_language(language)):
        total = len(notes) + more
        context = {
            "user": user,
            "notes": [n.context() for n in notes],
            "more": more,
            "more_beyond": more_beyond,
            "total": total,
            "site_url": base + "/",
            "unsubscribe_url": unsubscribe_url,
        }
        subject = ngettext(
            "You have %(count)d unread note", "You have %(count)d unread notes", total
        ) % {"count": total}
        if more_beyond:
            subject = ngettext(
                "You have %(count)d or more unread notes",
                "You have %(count)d or more unread notes",
                total,
            ) % {"count": total}
        text = render_to_string("note/digest/digest.txt", context)
        html = render_to_string("note/digest/digest.html", context)
    email = getattr(user, user.get_email_field_name())
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=conf.DIGEST_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=[email],
        headers={
            # RFC 8058: a mail client's one-click unsubscribe POSTs this body to the link.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message
