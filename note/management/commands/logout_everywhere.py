from django.core.management.base import BaseCommand, CommandError

from note.credentials import credentials_end_all
from note.tokens import user_by_name


class Command(BaseCommand):
    help = (
        "Log USER out everywhere: end every session and revoke every API token; their open "
        "WebSockets close with 4401 in every server process."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--keep-tokens", action="store_true", help="end the sessions only, keep API tokens"
        )

    def handle(self, *args, username, keep_tokens, **options):
        try:
            user = user_by_name(username)
        except Exception:
            raise CommandError(f"no user named {username!r}") from None
        try:
            sessions, tokens = credentials_end_all(user=user, tokens=not keep_tokens)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{username}: {sessions} session(s) ended, {tokens} token(s) revoked")
