"""The receiver of ``note.signals.notify``: any app's notice becomes a note.

Connected in ``NoteConfig.ready``, so sending needs nothing but the signal.
"""

from __future__ import annotations

import difflib
from typing import Any

from note.services import note_create
from note.signals import notify

# The fixed format (note.signals). A key outside it is a mistake, never dropped:
# ``recipient=bob`` dropped would leave ``recipients`` at None, a public note
# that everyone sees (issue 18).
FIXED_FORMAT = ("actor", "title", "content", "url", "kind", "recipients", "data", "target")


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
    signal: Any = None,
    **unknown: Any,
) -> None:
    """Store what an app sent through ``note.signals.notify``.

    Raises ``TypeError`` naming any keyword outside the fixed format, before
    anything is stored; ``notify.send_robust`` returns it as the error.
    """
    if unknown:
        raise TypeError(unknown_keywords_message(unknown))
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


def unknown_keywords_message(unknown: dict[str, Any]) -> str:
    """Names each stray key, with the fixed-format key it most likely meant."""
    parts = []
    for key in sorted(unknown):
        guess = difflib.get_close_matches(key, FIXED_FORMAT, n=1, cutoff=0.6)
        parts.append(f"{key!r} (did you mean {guess[0]!r}?)" if guess else repr(key))
    return (
        f"notify got unexpected keyword argument(s) {', '.join(parts)}; nothing was stored. "
        f"It takes only {', '.join(FIXED_FORMAT)} (besides sender)."
    )


def connect() -> None:
    notify.connect(on_notify, dispatch_uid="note.on_notify")
