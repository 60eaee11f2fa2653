import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from note.tokens import token_issue, user_by_name


class Command(BaseCommand):
    help = (
        "Print a new API token for USER (last line of stdout). Only its hash is stored, "
        "so this is the one time it is shown."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user if missing")
        parser.add_argument("--name", default="", help="what the token is for, shown in lists")
        parser.add_argument(
            "--expires-in-days",
            type=float,
            default=None,
            metavar="DAYS",
            help="the token stops working after this many days (default: never)",
        )

    def handle(self, *args, username, create, name, expires_in_days, **options):
        if expires_in_days is not None and not 0 < expires_in_days <= 36500:
            raise CommandError("--expires-in-days must be more than 0 and at most 36500")
        if len(name) > 100:
            raise CommandError("--name must be at most 100 characters")
        try:
            user = user_by_name(username, create=create)
        except Exception:
            raise CommandError(f"no user named {username!r} (use --create to make one)") from None
        expires = None
        if expires_in_days is not None:
            expires = timezone.now() + datetime.timedelta(days=expires_in_days)
        self.stdout.write(token_issue(user=user, name=name, expires=expires))
