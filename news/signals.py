"""Signals sent by the news app.

``news_published``: a news item was published (created), never on edits.
Sent inside the publishing transaction, with ``sender=News`` and
``news=<the News instance>``. ``note`` listens to turn it into a public note.
"""

from django.dispatch import Signal

news_published = Signal()
