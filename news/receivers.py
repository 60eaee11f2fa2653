"""News becomes notes: the example site's own use of the inbox.

``news_publish`` sends ``news_published`` once per created item; this receiver
stores the public note for it. It lives here, in the app that knows news,
because the inbox (``note``) knows nothing of what the site is about: any
host app does the same, with ``note.signals.notify`` or ``note_create``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from news.signals import news_published
from note.services import note_create

NEWS_PUBLISHED_TITLE = gettext_noop("%(actor)s posted news: %(title)s")


def on_news_published(sender: Any, *, news, **kwargs: Any) -> None:
    """One public note per published news item (never for edits: nothing sends then).

    The title is stored as a translatable template and its parameters, so
    each reader gets it in their own language.
    """
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
    news_published.connect(on_news_published, dispatch_uid="news.on_news_published")
