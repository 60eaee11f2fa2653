"""Logging out closes that session's open WebSockets, in every server process."""

from __future__ import annotations

from typing import Any

from realtime.delivery import publish_logout


def close_sockets_on_logout(sender: Any, request=None, user=None, **kwargs: Any) -> None:
    """Receiver of ``user_logged_out``: called before Django flushes the session."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        publish_logout(session_key=session.session_key)
