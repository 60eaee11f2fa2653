from django.core.management.base import BaseCommand, CommandError

from note.tokens import token_issue, user_by_name


class Command(BaseCommand):
    help = "Print a new API token for USER (last line of stdout). Only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user if missing")

    def handle(self, *args, username, create, **options):
        try:
            user = user_by_name(username, create=create)
        except Exception:
            raise CommandError(f"no user named {username!r} (use --create to make one)") from None
        self.stdout.write(token_issue(user=user))
