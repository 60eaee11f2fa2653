"""One log line per event, as ``name key=value ...`` text or as JSON (``LOG_FORMAT=json``).

The fields travel as ``extra`` too, so the JSON formatter (python-json-logger,
configured in settings) writes them as keys. Callers pass identifiers only
(connection id, user id, codes): never tokens, cookies or note text.
"""

from __future__ import annotations

import logging
from typing import Any


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        text = " ".join(f"{key}={value}" for key, value in fields.items())
        logger.log(level, "%s %s", event, text, extra={"event": event, **fields})
