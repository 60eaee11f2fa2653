"""Following ``/ws/notes/`` from Python: every note once, in id order, across reconnects.

:func:`subscribe` is the whole interface (exported by the package, whose
command line, ``notes_client.cli``, only formats what it yields). When a connection drops it
reconnects with capped, fully jittered back-off and resumes with
``?after=<last id yielded>``; an id it has already yielded is never yielded
again. ``docs/client.md`` is the reader's version, ``docs/protocol.md`` the
wire format it follows.

This module needs ``websockets`` and nothing else. It must not import Django:
the package is installed on its own (``pip install ./clients/python``), where
there is no Django and no project settings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.uri import parse_uri

from notes_client.protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    is_note_id,
    is_resume_point,
    retry_after,
)

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds: the first retry waits at most this long
BACKOFF_CAP = 30.0  # and no retry longer than this (docs/protocol.md, "Resuming")
CONNECT_ATTEMPTS = 3
OPEN_TIMEOUT = 10.0
# Well above the protocol's MAX_FRAME_BYTES: a server that sends more (one from
# before notes were clipped to it) is still read, not dropped on every resume.
MAX_RECEIVE_BYTES = 4 * 2**20
# What websockets reports when the connection ended without a close frame
# (RFC 6455, 7.1.5); never sent on the wire, so not one of the protocol's codes.
NO_CLOSE_FRAME = 1006
# A proxy answering for a backend that is down; any other status means the
# server is there and this URL is not its notes endpoint.
GATEWAY_STATUSES = frozenset({502, 503, 504})


class ClientError(Exception):
    """Retrying cannot help: the token, the URL or the server must change."""


class TokenRefused(ClientError):
    """The handshake was answered with HTTP 401 or 403: a malformed, unknown or revoked token."""


class BadURL(ClientError):
    """Not a ``ws://`` or ``wss://`` URL, or no notes endpoint there (HTTP 404, 500, …)."""


class ServerUnreachable(ClientError):
    """The first connection failed ``connect_attempts`` times in a row (nothing listening)."""


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 first): "full jitter".

    Uniform in ``[0, min(cap, base * 2**attempt)]``, so clients cut off together
    (a server restart) do not come back together.
    """
    return rng() * min(cap, base * 2 ** min(attempt, 32))


def check_url(url: str) -> None:
    """Raise :class:`BadURL` unless ``url`` is a ``ws://`` or ``wss://`` URL with a host."""
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    if scheme in ("http", "https"):
        suggestion = ("wss" if scheme == "https" else "ws") + url[len(scheme) :]
        raise BadURL(f"{url!r} is an HTTP URL; the notes endpoint is a WebSocket: {suggestion}")
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise BadURL(f"{url!r} is not a WebSocket URL (ws://HOST/ws/notes/): {exc.msg}") from None
    except (TypeError, ValueError) as exc:  # e.g. a port that is not a number
        raise BadURL(f"{url!r} is not a WebSocket URL (ws://HOST/ws/notes/): {exc}") from None


def resume_url(url: str, after: int | None) -> str:
    """``url`` with ``?after=`` set to ``after`` (other query parameters are kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "after"]
    if after is not None:
        query.append(("after", str(after)))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def subscribe(
    url: str,
    *,
    token: str,
    after: int | None = None,
    connect_attempts: int | None = CONNECT_ATTEMPTS,
    max_delay: float = BACKOFF_CAP,
    open_timeout: float = OPEN_TIMEOUT,
) -> AsyncIterator[dict[str, Any]]:
    """Yield the ``note`` object of every note frame, each id once, ids increasing.

    ``after=None`` starts with the notes created from the first connection on;
    ``after=N`` first replays every visible note with an id above N (0: all).
    Once a connection has been made it reconnects for ever (servers restart);
    before that it gives up after ``connect_attempts`` failed attempts (``None``:
    never) with :class:`ServerUnreachable`. A refused token or a wrong URL raises
    :class:`TokenRefused` or :class:`BadURL` at once, also on a reconnect.
    Progress goes to this module's logger; ``error`` frames are logged as warnings.
    """
    check_url(url)
    if not token:
        raise TokenRefused("a token is required (python manage.py issue_token USER)")
    if after is not None and not is_resume_point(after):
        raise ValueError(f"after must be a note id (0 or more), not {after!r}")
    cursor = after  # the resume point: the last id yielded, else where we started
    failures = 0  # failed attempts since the last complete handshake; back-off grows with them
    connected_once = False
    while True:
        failure = endpoint_answered = None
        try:
            async with connect(
                resume_url(url, cursor),
                additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=open_timeout,
                max_size=MAX_RECEIVE_BYTES,
            ) as ws:
                connected_once = True
                async for text in ws:
                    frame = _parse_frame(text)
                    kind = frame.get("type")
                    if kind == "note":
                        note = _note_of(frame)
                        if note is not None and (cursor is None or note["id"] > cursor):
                            cursor = note["id"]
                            yield note
                    elif kind == "hello":
                        if cursor is None:  # "from now on" means after the newest note now
                            last_id = frame.get("last_id")
                            cursor = last_id if is_resume_point(last_id) else 0
                        _log_hello(frame, url, cursor)
                    elif kind == "synced":
                        failures = 0  # a working connection: the next drop retries promptly
                        if frame.get("pruned"):  # retention deleted some we had not seen
                            log.warning("some notes after the resume point were pruned")
                        log.info("up to date (last id %s); waiting for new notes", cursor)
                    elif kind == "unread":
                        log.info("unread notes: %s", frame.get("count"))
                    elif kind == "changed":  # read, unread, archived, deleted elsewhere
                        log.info("notes %s changed: %s", frame.get("ids"), frame)
                    elif kind == "error":
                        log.warning("server error %s: %s", frame.get("code"), frame.get("message"))
                    elif kind != "pong":  # a newer server may add frame types: not our business
                        log.debug("ignored a frame of type %r", kind)
            code, reason = ws.close_code or NO_CLOSE_FRAME, ws.close_reason or ""
        except InvalidStatus as exc:
            status = exc.response.status_code
            _raise_if_refused(status, url)
            failure, endpoint_answered = f"HTTP {status}", status not in GATEWAY_STATUSES
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            failure, endpoint_answered = _describe(exc), False
        except ConnectionClosed as exc:  # dropped without a clean close
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (NO_CLOSE_FRAME, "")

        if failure is None and code == CloseCode.NOT_FOUND:
            raise BadURL(f"no notes endpoint at {url}; it usually ends in /ws/notes/")
        if failure is None and code == CloseCode.REVOKED:
            raise TokenRefused(
                f"the server ended this token's access ({reason or code}); "
                "get a new one with: python manage.py issue_token USER"
            )
        if failure is None and code == CloseCode.BAD_REQUEST:
            raise ClientError(f"the server refused the request: {reason or code}")
        failures += 1
        if failure is not None and not connected_once:
            _give_up_if_exhausted(url, failure, failures, connect_attempts, endpoint_answered)
        delay = backoff_delay(failures - 1, cap=max_delay)
        if failure is None and code == CloseCode.RATE_LIMITED:
            delay += retry_after(reason) or 1  # a limit: never straight back
        if failure is None:
            why = f"connection closed (code {code}{', ' + reason if reason else ''})"
        else:
            why = f"cannot connect ({failure})"
        log.info("%s; retrying in %.1f s", why, delay)
        await asyncio.sleep(delay)


def _raise_if_refused(status: int, url: str) -> None:
    """Handshake statuses that retrying cannot change: a bad token, no such endpoint."""
    if status in (401, 403):
        raise TokenRefused(
            f"the server refused the token (HTTP {status} at {url}); "
            "get a new one with: python manage.py issue_token USER"
        )
    if 400 <= status < 500 and status not in (408, 429):
        raise BadURL(f"no notes endpoint at {url} (HTTP {status}); it usually ends in /ws/notes/")


def _give_up_if_exhausted(
    url: str, failure: str, failures: int, attempts: int | None, endpoint_answered: bool | None
) -> None:
    if attempts is None or failures < attempts:
        return
    if endpoint_answered:
        # Something answers there, but not as our endpoint (another server, a proxy's 5xx).
        raise BadURL(
            f"the server at {url} answered {failure} {failures} times; "
            "is this its notes endpoint (usually .../ws/notes/)?"
        )
    raise ServerUnreachable(
        f"cannot connect to {url}: {failure} ({failures} attempts); is the server running?"
    )


def _parse_frame(text: str | bytes) -> dict[str, Any]:
    """The frame as a dict; anything else is logged and read as an empty frame."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        frame = None
    if isinstance(frame, dict):
        return frame
    log.warning("ignored a frame that is not a JSON object: %.200r", text)
    return {}


def _note_of(frame: dict[str, Any]) -> dict[str, Any] | None:
    note = frame.get("note")
    if isinstance(note, dict) and is_note_id(note.get("id")):
        return note
    log.warning("ignored a note frame without a note id: %.200s", frame)
    return None


def _log_hello(frame: dict[str, Any], url: str, cursor: int) -> None:
    if frame.get("protocol") != PROTOCOL_VERSION:
        log.warning(
            "the server speaks protocol %s; this client knows %s",
            frame.get("protocol"),
            PROTOCOL_VERSION,
        )
    log.info(
        "connected to %s as %s (%s unread); notes after #%s follow",
        url,
        frame.get("user") or "anonymous",
        frame.get("unread"),
        cursor,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
