"""``python -m realtime.client``: the ``notes-listen`` command under its name in this repository.

The client is its own distribution (``clients/python``, package
``notes_client``); this module keeps the command line of the contract and
``from realtime.client import subscribe`` working. Like the client, it must
not import Django.
"""

import sys

from notes_client import BadURL, ClientError, ServerUnreachable, TokenRefused, subscribe
from notes_client.cli import main

__all__ = ["BadURL", "ClientError", "ServerUnreachable", "TokenRefused", "main", "subscribe"]

if __name__ == "__main__":
    sys.exit(main())
