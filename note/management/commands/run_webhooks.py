import signal

from django.core.management.base import BaseCommand

from note.webhooks.worker import WebhookWorker


class Command(BaseCommand):
    help = (
        "Deliver notes to the registered webhook endpoints (docs/webhooks.md). Runs until "
        "SIGTERM or SIGINT (finishing the POSTs in flight); --once does one round and exits. "
        "Several may run at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="enqueue new notes, send everything due now, then exit (for cron)",
        )

    def handle(self, *args, once, **options):
        with WebhookWorker() as worker:
            if once:
                tally = worker.run_once()
                self.stdout.write(
                    f"enqueued {tally.enqueued}, delivered {tally.delivered}, "
                    f"failed {tally.failed}"
                    + (f", disabled {', '.join(tally.disabled)}" if tally.disabled else "")
                )
                return
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: worker.stop())
            self.stdout.write("delivering webhooks (SIGTERM or Ctrl-C stops)")
            self.stdout.flush()
            worker.run()
