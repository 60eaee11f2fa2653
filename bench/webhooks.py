"""H: what webhooks cost: deliveries per second of one worker against a local receiver.

``python -m bench.webhooks [--notes N] [--concurrency 1,4,16]``: for each
concurrency, N public notes are queued for one endpoint whose receiver (a
threaded HTTP server on this machine, answering 200 at once) records them,
and one worker (``WebhookWorker``, in this process) sends them all. Prints a
table: deliveries/s, and the same with a receiver that takes 20 ms per
answer. The database is ``DATABASE_URL`` (migrated first), or a fresh
SQLite file. Figures with their conditions go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def setup_django() -> None:
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        path = tempfile.mkstemp(prefix="bench-webhooks-", suffix=".sqlite3")[1]
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def one_run(*, notes: int, concurrency: int, delay: float) -> tuple[float, float]:
    """(seconds to enqueue, seconds to deliver) ``notes`` notes with one worker."""
    from django.test import override_settings

    from note.services import note_create
    from note.webhooks.endpoints import endpoint_create
    from note.webhooks.models import WebhookEndpoint
    from note.webhooks.queue import webhook_enqueue_all
    from note.webhooks.worker import WebhookWorker
    from tests.support.receiver import Receiver

    WebhookEndpoint.objects.all().delete()
    with Receiver(delay=delay) as receiver:
        endpoint_create(name="bench", url=receiver.url)
        for i in range(notes):
            note_create(kind="bench", title=f"bench {i}", content="x" * 200)
        with override_settings(NOTES_WEBHOOK_CONCURRENCY=concurrency):
            started = time.perf_counter()
            while webhook_enqueue_all():
                pass
            enqueued = time.perf_counter()
            with WebhookWorker() as worker:
                while len(receiver.received) < notes:
                    worker.run_once()
            done = time.perf_counter()
        assert len(set(receiver.note_ids())) == notes
    return enqueued - started, done - enqueued


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--concurrency", default="1,4,16")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection

    print(f"database: {connection.vendor}; notes per run: {args.notes}; one worker")
    print(f"{'receiver':>10} {'concurrency':>11} {'enqueue/s':>10} {'deliveries/s':>13}")
    for delay in (0.0, 0.02):
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            enqueue, deliver = one_run(notes=args.notes, concurrency=concurrency, delay=delay)
            print(
                f"{int(delay * 1000):>8}ms {concurrency:>11} {args.notes / enqueue:>10.0f} "
                f"{args.notes / deliver:>13.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
