"""Answering a handshake with a close frame instead of an HTTP status.

Some handshakes must not go on but are not bad credentials either (a limit,
a token the database could not check): an HTTP 403 would tell the client to
give up, daphne's 500 tells it nothing. Accepting and closing at once gives
it a WebSocket close code it can act on (protocol.md's table).
"""

from __future__ import annotations

import logging

from django.db import DatabaseError

from notes_client.protocol import CloseCode
from realtime import metrics
from realtime.db import DatabaseBusy
from realtime.logs import log_event

log = logging.getLogger(__name__)

# What a credential lookup at the handshake may raise when the database, not
# the credential, is the trouble: failed, hung (``NOTES_DB_TIMEOUT_SECONDS``)
# or too busy (``NOTES_DB_QUEUE_LIMIT``).
DATABASE_TROUBLE = (DatabaseBusy, DatabaseError, TimeoutError)


async def close_at_handshake(receive, send, code: int, reason: str) -> None:
    """Accept the pending handshake and close it at once with ``code`` and ``reason``."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the handshake was answered
    await send({"type": "websocket.accept"})
    # A plain int: autobahn refuses any other type, an IntEnum included.
    await send({"type": "websocket.close", "code": int(code), "reason": reason})


async def close_unchecked(receive, send, exc: BaseException, what: str) -> None:
    """The database could not check ``what`` (a token, a ticket): 1013 when it is busy,
    1012 otherwise, so the client resumes later instead of giving up."""
    busy = isinstance(exc, DatabaseBusy)
    metrics.clients_cut_off.labels("database_busy" if busy else "database_error").inc()
    log_event(log, "ws_auth_unchecked", logging.WARNING, what=what, error=repr(exc))
    code = CloseCode.TRY_AGAIN_LATER if busy else CloseCode.SERVICE_RESTART
    await close_at_handshake(receive, send, code, f"could not check the {what}; resume")
