"""``manage.py prune_notes``: apply the retention settings (or the given limits) in batches."""

from django.core.management.base import BaseCommand, CommandError

from note.retention import BATCH, note_prune


class Command(BaseCommand):
    help = (
        "Delete notes older than NOTES_RETENTION_DAYS and each user's private notes past "
        "the newest NOTES_RETENTION_PER_USER, in batches (short transactions). "
        "Resuming clients are told in their synced frame that older notes were pruned."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="override NOTES_RETENTION_DAYS")
        parser.add_argument("--per-user", type=int, help="override NOTES_RETENTION_PER_USER")
        parser.add_argument("--batch", type=int, default=BATCH, help="notes per transaction")

    def handle(self, *args, days, per_user, batch, **options):
        for name, value, least in (("--days", days, 0), ("--per-user", per_user, 0)):
            if value is not None and value < least:
                raise CommandError(f"{name} must be {least} or more")
        if batch < 1:
            raise CommandError("--batch must be 1 or more")
        result = note_prune(days=days, per_user=per_user, batch=batch)
        self.stdout.write(
            f"pruned {result.by_age + result.by_count} notes "
            f"({result.by_age} by age, {result.by_count} by count per user)"
        )
