"""``manage.py demo``: the demo users, then a news item every few seconds, so a page shows toasts.

It runs beside ``make run`` (``make demo`` in another terminal). With the
in-memory channel layer this process cannot reach the server's layer; the
server still delivers the notes, because its hub reads the database every
``NOTES_CATCH_UP_SECONDS`` (``realtime/hub.py``). With a shared ``REDIS_URL``
they travel through the layer at once.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from news.demo import demo_users_ensure
from news.services import news_publish
from realtime.runtime import publishing

SUBJECTS = (
    "The coffee machine",
    "Release 2.4",
    "The quarterly report",
    "Our new intern",
    "The office plant",
    "The staging server",
    "Friday's hackathon",
    "The team lunch",
    "The wiki",
    "The parking garage",
)
PREDICATES = (
    "is back online",
    "needs volunteers",
    "moves to Thursday",
    "got a fresh coat of paint",
    "is out, with release notes",
    "broke a record this week",
    "has a new home",
    "is open for comments",
    "was a great success",
    "asks for your feedback",
)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that Ctrl-C (SIGINT) or SIGTERM sets, so the loop ends between two items.

    A second signal interrupts at once (KeyboardInterrupt), in case a write hangs.
    Outside the main thread (``call_command`` from a test thread) handlers
    cannot be set, and the event is only set by the caller.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Command(BaseCommand):
    help = (
        "Make the demo users, then publish a news item from a random one of them every few "
        "seconds, so that an open page shows toasts. Ctrl-C stops."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between items (default 5)"
        )
        parser.add_argument(
            "--count", type=int, default=None, help="stop after this many items (default: never)"
        )

    def handle(self, *args, interval: float, count: int | None, **options) -> None:
        if not interval >= 0:  # also refuses nan
            raise CommandError("--interval must be 0 or more seconds")
        if count is not None and count < 0:
            raise CommandError("--count must be 0 or more")
        logins = demo_users_ensure()
        self.stdout.write("Demo logins: " + ", ".join(f"{u} / {p}" for u, p in logins))
        authors = list(get_user_model().objects.filter(username__in=[u for u, _ in logins]))
        self.stdout.write(f"A news item every {interval:g} s; Ctrl-C stops.")
        self.stdout.flush()
        posted = 0
        with stop_on_signals() as stop:
            while count is None or posted < count:
                if posted and stop.wait(interval):
                    break
                if stop.is_set():
                    break
                self._post_one(random.choice(authors))
                posted += 1
        self.stdout.write(f"Stopped after {posted} item{'' if posted == 1 else 's'}.")

    def _post_one(self, author) -> None:
        title = f"{random.choice(SUBJECTS)} {random.choice(PREDICATES)}"
        # With a shared layer the note goes out now rather than at exit; with
        # the in-memory one the server's database catch-up brings it anyway.
        with publishing(timeout=3):
            news = news_publish(
                author=author,
                title=title,
                content=f"Posted by {author.get_username()} from manage.py demo.",
            )
        self.stdout.write(f"{author.get_username()} posted news {news.pk}: {title}")
        self.stdout.flush()  # a line per item as it happens, also through a pipe
