"""``python -m bench.digest``: what the email digest costs, per 1,000 users.

In-process, against the database of ``DATABASE_URL`` (by default a scratch
SQLite file; it makes and deletes its own users and notes), mailing a real
SMTP server on localhost (aiosmtpd, from the dev extras: ``make dev`` first).
Prints a table for docs/performance.md ("Email digests"):

- a ``send_digests`` run that mails every one of N away users (each with a
  few private notes and one public one): queries and time, in total and per user;
- a run right after, with nothing due (the candidate query alone);
- the hubs' presence write for N connected users (``note_presence_record``).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import uuid

USERS = int(os.environ.get("BENCH_DIGEST_USERS", "1000"))
NOTES_PER_USER = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(smtp_port: int) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench-digest.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["DIGEST_BASE_URL"] = "https://notes.example.com"
    os.environ["EMAIL_HOST"] = "127.0.0.1"
    os.environ["EMAIL_PORT"] = str(smtp_port)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Count:
    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        return "250 OK"


def measure(fn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
    return result, len(queries), elapsed


def main() -> int:
    from aiosmtpd.controller import Controller

    port = free_port()
    counter = Count()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    setup(port)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from note.digest import digest_send_due
    from note.models import Note
    from note.presence import note_presence_record
    from note.services import note_create

    User = get_user_model()
    tag = uuid.uuid4().hex[:6]
    User.objects.bulk_create(
        [User(username=f"dg{tag}-{i}", email=f"dg{tag}-{i}@example.com") for i in range(USERS)]
    )
    users = list(User.objects.filter(username__startswith=f"dg{tag}-"))
    for i in range(NOTES_PER_USER):
        note_create(kind="bench", title=f"private {i}", content="x" * 200, recipients=users)
    note_create(kind="bench", title="public", content="for everyone")

    rows = []
    try:
        run, queries, elapsed = measure(digest_send_due)
        assert run.sent == USERS and counter.messages >= USERS, (run, counter.messages)
        rows.append(
            (
                f"send_digests, {USERS} away users, each mailed",
                f"{queries} queries ({queries / USERS:.1f}/user)",
                f"{elapsed:.2f} s ({elapsed / USERS * 1000:.1f} ms/user)",
            )
        )
        run, queries, elapsed = measure(digest_send_due)
        assert run.sent == 0
        rows.append(("send_digests, nothing due", f"{queries} queries", f"{elapsed * 1000:.1f} ms"))
        seen = {u.pk: "en" for u in users}
        _, queries, elapsed = measure(lambda: note_presence_record(seen=seen))
        rows.append(
            (
                f"presence write, {USERS} connected users (first time: inserts)",
                f"{queries} queries",
                f"{elapsed * 1000:.1f} ms",
            )
        )
        _, queries, elapsed = measure(lambda: note_presence_record(seen=seen))
        rows.append(
            (
                f"presence write, {USERS} connected users (periodic: updates)",
                f"{queries} queries",
                f"{elapsed * 1000:.1f} ms",
            )
        )
    finally:
        controller.stop()
        Note.objects.filter(kind="bench").delete()
        User.objects.filter(username__startswith=f"dg{tag}-").delete()
    print(
        f"database: {connection.vendor}; SMTP: aiosmtpd on localhost; {USERS} users, "
        f"{NOTES_PER_USER} private notes each and 1 public; one run each"
    )
    print()
    print("| what | queries | time |")
    print("| --- | --- | --- |")
    for what, queries, elapsed in rows:
        print(f"| {what} | {queries} | {elapsed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
