"""``notes-listen`` (``python -m notes_client``): print the notes of a server as they arrive.

One JSON line per note on stdout (the ``note`` object of the protocol), or with
``--pretty`` one readable line. Status lines go to stderr. The subscription
itself (resume, back-off, nothing missed or printed twice) is
:func:`notes_client.subscription.subscribe`. ``docs/client.md`` documents both.

Like the subscription, this module must not import Django.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit, urlunsplit

from notes_client.protocol import is_resume_point
from notes_client.subscription import (
    CONNECT_ATTEMPTS,
    BadURL,
    ClientError,
    ServerUnreachable,
    TokenRefused,
    check_url,
    subscribe,
)
from notes_client.subscription import log as subscription_log

TOKEN_VARIABLE = "NOTES_TOKEN"
CONTENT_CHARS = 60  # --pretty shows this much of a note's content

EXIT_OK = 0  # also when stopped with SIGTERM
EXIT_USAGE = 2  # bad arguments or a wrong URL (argparse uses 2 as well)
EXIT_UNREACHABLE = 3  # nothing answered the first connection
EXIT_TOKEN_REFUSED = 4
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def exit_code_for(error: ClientError) -> int:
    if isinstance(error, TokenRefused):
        return EXIT_TOKEN_REFUSED
    if isinstance(error, ServerUnreachable):
        return EXIT_UNREACHABLE
    return EXIT_USAGE


# Output formats: one line per note, never more.


def format_json(note: dict[str, Any], *, server: str = "") -> str:
    """The note object as the server sent it, as one line of JSON."""
    return json.dumps(note, ensure_ascii=False, separators=(",", ":"))


def format_pretty(note: dict[str, Any], *, server: str = "") -> str:
    """``#42 2026-11-25 09:30 alice posted news: Release 1.0 — It shipped.  http://…/news/7/``

    The time is the note's ``created`` in the local time zone (``TZ``), to the
    minute; the content is cut to ``CONTENT_CHARS``; a relative ``url`` is made
    absolute against ``server`` (the page's base URL) so terminals can open it.
    """
    line = f"#{note.get('id')} {_local_minute(note.get('created'))} {_one_line(note.get('title'))}"
    content = _one_line(note.get("content"))
    if content:
        if len(content) > CONTENT_CHARS:
            content = content[: CONTENT_CHARS - 1].rstrip() + "…"
        line += f" — {content}"
    url = _one_line(note.get("url"))
    if url:
        line += f"  {urljoin(server, url) if server else url}"
    return line


def page_base(ws_url: str) -> str:
    """The site a WebSocket URL belongs to: ``ws://h:8000/ws/notes/`` -> ``http://h:8000/``."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme.lower() == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "/", "", ""))


def _local_minute(created: Any) -> str:
    try:
        return datetime.fromisoformat(created).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return _one_line(created) or "?"


def _one_line(text: Any) -> str:
    """Text safe for one terminal line: control characters (newlines, escapes) become spaces."""
    text = "" if text is None else str(text)
    cleaned = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(cleaned.split())


# The command line.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notes-listen",
        description="Print the notes of a /ws/notes/ server as they arrive: one JSON line each "
        "(or one readable line with --pretty). Reconnects and resumes by itself.",
        epilog=f"Exit codes: {EXIT_USAGE} bad arguments or wrong URL, {EXIT_UNREACHABLE} no "
        f"server, {EXIT_TOKEN_REFUSED} token refused, {EXIT_INTERRUPTED} Ctrl-C, "
        f"{EXIT_OK} SIGTERM. See docs/client.md.",
    )
    parser.add_argument("--url", required=True, help="e.g. ws://127.0.0.1:8000/ws/notes/")
    parser.add_argument(
        "--token",
        help=f"API token (python manage.py issue_token USER); default: ${TOKEN_VARIABLE}, "
        "which keeps it out of the process list",
    )
    parser.add_argument(
        "--after",
        type=_resume_point,
        metavar="ID",
        help="first print every visible note with a greater id (0: all); default: new ones only",
    )
    parser.add_argument(
        "--pretty", action="store_true", help="one readable line per note instead of JSON"
    )
    parser.add_argument(
        "--connect-attempts",
        type=_count,
        default=CONNECT_ATTEMPTS,
        metavar="N",
        help=f"give up when the first connection fails N times (default {CONNECT_ATTEMPTS}; "
        "0: never); once connected, it retries for ever",
    )
    parser.add_argument("--quiet", action="store_true", help="no status lines on stderr")
    return parser


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return int(text)


def _resume_point(text: str) -> int:
    after = _count(text)
    if not is_resume_point(after):
        raise argparse.ArgumentTypeError(f"{text!r} is not a note id (0 or more)")
    return after


def main(argv: list[str] | None = None) -> int:
    """``notes-listen`` / ``python -m notes_client``; returns the exit code."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: asyncio.run cancels the loop's task, then raises this
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    token = args.token or os.environ.get(TOKEN_VARIABLE)
    if not token:
        parser.error(f"give --token TOKEN or set {TOKEN_VARIABLE} (python manage.py issue_token)")
    try:
        check_url(args.url)
    except BadURL as exc:
        return _fail(exc)
    _log_to_stderr(logging.WARNING if args.quiet else logging.INFO)
    # JSON is UTF-8 whatever the locale; --pretty follows the terminal, never failing on a glyph.
    sys.stdout.reconfigure(**({"errors": "replace"} if args.pretty else {"encoding": "utf-8"}))
    notes = subscribe(
        args.url,
        token=token,
        after=args.after,
        connect_attempts=args.connect_attempts or None,
    )
    formatter = format_pretty if args.pretty else format_json
    server = page_base(args.url)
    try:
        return asyncio.run(_print_notes(notes, lambda n: formatter(n, server=server), sys.stdout))
    except ClientError as exc:
        return _fail(exc)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, without Python's flush warning.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


async def _print_notes(
    notes: AsyncIterator[dict[str, Any]], line: Callable[[dict[str, Any]], str], out: TextIO
) -> int:
    """Print until stopped. SIGTERM ends with 0; SIGINT reaches ``main`` as KeyboardInterrupt."""
    task = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        pass
    try:
        async for note in notes:
            out.write(line(note) + "\n")
            out.flush()  # a line as soon as it arrives, also through a pipe
    except asyncio.CancelledError:
        if terminated:
            return EXIT_OK
        raise
    return EXIT_OK


def _fail(error: ClientError) -> int:
    print(f"notes-listen: {error}", file=sys.stderr)
    return exit_code_for(error)


def _log_to_stderr(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("notes-listen: %(message)s"))
    subscription_log.addHandler(handler)
    subscription_log.setLevel(level)
    subscription_log.propagate = False
