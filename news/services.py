"""Publishing news: the one way a news item comes to exist.

The page form, the JSON API, the admin's *add* and ``manage.py post_news`` all
call :func:`news_publish`, so "one published item, one signal" holds for all.
Editing goes through ``News.save`` and sends nothing (the seed post's
complaint about ``post_save`` firing on every admin edit).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from news.models import News
from news.signals import news_published


def news_publish(*, author: AbstractBaseUser, title: str, content: str = "") -> News:
    """Create a news item and send ``news_published`` once, in one transaction.

    Receivers run inside the transaction, so their notes commit (or roll back)
    together with the news item.
    """
    with transaction.atomic():
        news = News(author=author, title=title, content=content)
        # The author is the caller's saved user (request.user, a looked-up
        # account): checking that it exists would be one more SELECT per post.
        news.full_clean(exclude={"author"})
        news.save()
        news_published.send(sender=News, news=news)
    return news
