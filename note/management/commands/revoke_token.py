from django.core.management.base import BaseCommand, CommandError

from note.models import ApiToken
from note.tokens import token_find, token_revoke


class Command(BaseCommand):
    help = (
        "Revoke an API token by its id or prefix (as list_tokens shows): it stops working "
        "at once, and its open WebSockets close with 4401 in every server process."
    )

    def add_arguments(self, parser):
        parser.add_argument("token", help="the token's id, or its prefix such as rtn_AbC12345")

    def handle(self, *args, token, **options):
        try:
            found = token_find(token)
        except ApiToken.DoesNotExist:
            raise CommandError(f"no token {token!r} (see: manage.py list_tokens)") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        described = str(found)
        token_revoke(token=found)
        self.stdout.write(f"revoked {described}")
