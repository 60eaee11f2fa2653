from django.core.management.base import BaseCommand, CommandError

from note.tokens import token_list, user_by_name


class Command(BaseCommand):
    help = (
        "List API tokens (never their value): id, prefix, user, name, created, expires, last used."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", default=None, help="only this user's tokens")

    def handle(self, *args, user, **options):
        owner = None
        if user is not None:
            try:
                owner = user_by_name(user)
            except Exception:
                raise CommandError(f"no user named {user!r}") from None
        self.stdout.write("id\tprefix\tuser\tname\tcreated\texpires\tlast_used")
        for token in token_list(user=owner):
            expires = _when(token.expires) if token.expires else "never"
            if token.expired:
                expires += " (expired)"
            self.stdout.write(
                "\t".join(
                    [
                        str(token.pk),
                        token.prefix + "…",
                        token.user.get_username(),
                        token.name or "-",
                        _when(token.created),
                        expires,
                        _when(token.last_used) if token.last_used else "never",
                    ]
                )
            )


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
