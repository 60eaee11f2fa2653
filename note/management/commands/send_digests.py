"""``manage.py send_digests``: email each user who has been away their unread notes.

Once (from cron), or ``--loop`` as a long-running worker (systemd). Any number
may run at once: each user is claimed by one (``note.digest``).
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from note import conf
from note.digest import digest_send_due


class Command(BaseCommand):
    help = (
        "Send the email digests that are due: one email per user away for "
        "NOTES_DIGEST_AWAY_SECONDS, at most once per NOTES_DIGEST_PERIOD_SECONDS. "
        "Once, or --loop every NOTES_DIGEST_INTERVAL_SECONDS until SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep running (a worker)")
        parser.add_argument(
            "--metrics-port",
            type=int,
            help="serve this worker's Prometheus counters on 127.0.0.1:PORT (with --loop)",
        )

    def handle(self, *args, loop: bool, metrics_port: int | None, **options):
        if not conf.DIGEST_BASE_URL:
            raise CommandError(
                "NOTES_DIGEST_BASE_URL is not set: the email's links need the site's address, "
                "e.g. NOTES_DIGEST_BASE_URL = 'https://notes.example.com' "
                "(DIGEST_BASE_URL in the environment of this repository's server)"
            )
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1")
        stop = threading.Event()
        if loop:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        while True:
            run = digest_send_due(stopping=stop.is_set)
            self.stdout.write(
                f"digests sent {run.sent}, failed {run.failed}, nothing new {run.nothing_new}"
            )
            self.stdout.flush()
            if not loop:
                if run.failed:
                    raise CommandError(f"{run.failed} digests failed; they are retried later")
                return
            close_old_connections()
            # Finishes the batch in hand first: a claimed user is settled, not left to its lease.
            if stop.wait(conf.DIGEST_INTERVAL_SECONDS):
                return
