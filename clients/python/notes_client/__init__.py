"""Follow the notes of a django-realtime-notes server from Python, without Django.

``async for note in subscribe(url, token=...)`` is the library
(``notes_client.subscription``); ``notes-listen`` (``python -m notes_client``)
is the command line (``notes_client.cli``). Both need only ``websockets``.
``notes_client.protocol``, the protocol's numbers and frame shapes, needs
only the standard library. ``docs/client.md`` in the repository is the
reader's version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notes_client.subscription import (
        BadURL,
        ClientError,
        ServerUnreachable,
        TokenRefused,
        subscribe,
    )

__version__ = "0.1.0"

__all__ = [
    "BadURL",
    "ClientError",
    "ServerUnreachable",
    "TokenRefused",
    "__version__",
    "subscribe",
]


def __getattr__(name: str) -> Any:
    """The subscription's names, imported when first asked for (PEP 562).

    The server imports ``notes_client.protocol``, which runs this file first;
    importing ``websockets`` only for a program that subscribes keeps that
    module a leaf without dependencies.
    """
    if name in __all__:
        from notes_client import subscription

        return getattr(subscription, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
