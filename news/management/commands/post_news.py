from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from news.services import news_publish
from realtime.runtime import publishing


class Command(BaseCommand):
    help = "Publish a news item exactly like the page form does."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the author")
        parser.add_argument("--title", required=True)
        parser.add_argument("--content", default="")

    def handle(self, *args, user, title, content, **options):
        try:
            author = get_user_model()._default_manager.get_by_natural_key(user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {user!r}") from None
        try:
            with publishing(timeout=3):  # the note reaches the layer before the process exits
                news = news_publish(author=author, title=title, content=content)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"published news {news.pk}: {news.get_absolute_url()}")
