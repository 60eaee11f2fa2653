from django.core.management.base import BaseCommand

from note.stamping import note_pending_count, note_stamp_pending, note_sweep_pending


class Command(BaseCommand):
    help = (
        "Give committed pending notes their ids and publish them (PostgreSQL, MariaDB). "
        "Server processes do this on their own; run it from cron on a site without one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all",
            action="store_true",
            help="stamp every committed pending note now, not only those pending longer "
            "than NOTES_STAMP_SWEEP_SECONDS",
        )

    def handle(self, *args, all, **options):
        stamped = note_stamp_pending() if all else note_sweep_pending()
        self.stdout.write(f"stamped {len(stamped)} notes; {note_pending_count()} still pending")
