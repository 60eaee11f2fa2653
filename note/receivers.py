"""The receiver of ``note.signals.notify``: any app's notice becomes a note.

Connected in ``NoteConfig.ready``, so sending needs nothing but the signal.
"""

from __future__ import annotations

from typing import Any

from note.services import note_create
from note.signals import notify


def on_notify(
    sender: Any,
    *,
    title: str,
    actor=None,
    content: str = "",
    url: str = "",
    kind: str = "notice",
    recipients=None,
    data: dict | None = None,
    target=None,
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
        data=data,
        target=target,
    )


def connect() -> None:
    notify.connect(on_notify, dispatch_uid="note.on_notify")
