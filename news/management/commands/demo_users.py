from django.core.management.base import BaseCommand

from news.demo import demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo users and print their logins."

    def handle(self, *args, **options):
        self.stdout.write("Demo logins (http://127.0.0.1:8000/accounts/login/):")
        for username, password in demo_users_ensure():
            self.stdout.write(f"  {username} / {password}")
