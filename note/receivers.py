"""Receivers that turn signals from other apps into notes.

They are connected in ``NoteConfig.ready`` so the sending apps never import
``note``: news only knows it publishes, not who listens.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from news.signals import news_published
from note.services import note_create
from note.signals import notify

NEWS_PUBLISHED_TITLE = gettext_noop("%(actor)s posted news: %(title)s")


def on_notify(
    sender: Any,
    *,
    title: str,
    actor=None,
    content: str = "",
    url: str = "",
    kind: str = "notice",
    recipients=None,
    **kwargs: Any,
) -> None:
    """Store what an app sent through ``note.signals.notify``."""
    note_create(
        kind=kind,
        actor=actor,
        title=str(title),
        content=content,
        url=url,
        recipients=recipients,
    )


def on_news_published(sender: Any, *, news, **kwargs: Any) -> None:
    """One public note per published news item (never for edits: nothing sends then)."""
    params = {"actor": news.author.get_username(), "title": news.title}
    note_create(
        kind="news.published",
        actor=news.author,
        title=NEWS_PUBLISHED_TITLE % params,
        title_template=NEWS_PUBLISHED_TITLE,
        title_params=params,
        content=news.content,
        url=news.get_absolute_url(),
        recipients=None,
        savepoint=False,  # news_publish sends with send(): a failure here fails it whole
    )


def connect() -> None:
    notify.connect(on_notify, dispatch_uid="note.on_notify")
    news_published.connect(on_news_published, dispatch_uid="note.on_news_published")
