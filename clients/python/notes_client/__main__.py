"""``python -m notes_client``: the ``notes-listen`` command."""

import sys

from notes_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
