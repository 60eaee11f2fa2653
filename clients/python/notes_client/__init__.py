"""Follow the notes of a django-realtime-notes server from Python, without Django.

``async for note in subscribe(url, token=...)`` is the library
(``notes_client.subscription``); ``notes-listen`` (``python -m notes_client``)
is the command line (``notes_client.cli``). Both need only ``websockets``.
``docs/client.md`` in the repository is the reader's version.
"""

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
