"""Set-up shared by the standalone runs (``bench/chaos.py``, ``bench/soak.py``).

Each makes a database of its own, migrates it and sets Django up in this
process with the same database and channel layer as the servers it starts,
so that notes created here reach them exactly as from another server process.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


LIMITS = (
    "LIMIT_HANDSHAKES_PER_ADDRESS",
    "LIMIT_HANDSHAKES_PER_USER",
    "LIMIT_SOCKETS_PER_USER",
    "LIMIT_PUBLISH_PER_USER",
    "LIMIT_MARK_READ_PER_USER",
)


def prepare(name: str, *, redis_url: str, database_url: str | None = None) -> tuple[str, str]:
    """Return ``(database_url, layer_prefix)`` after migrating and ``django.setup()``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    database_url = database_url or f"sqlite:///{tempfile.mkdtemp()}/{name}.sqlite3"
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_LAYER_PREFIX=prefix,
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="1",  # a bench on one machine, not a site
        LOG_LEVEL="ERROR",
        **dict.fromkeys(LIMITS, "off"),  # thousands of sockets of a few users, from one address
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )
    import django

    django.setup()
    return database_url, prefix
