"""Demo accounts for ``make run`` (and ``manage.py demo``)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

DEMO_USERS = (("alice", "alice-demo-1"), ("bob", "bob-demo-1"), ("carol", "carol-demo-1"))


def demo_users_ensure() -> list[tuple[str, str]]:
    """Create the demo users if missing (password reset to the demo one); return the logins."""
    User = get_user_model()
    for username, password in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
    return list(DEMO_USERS)
