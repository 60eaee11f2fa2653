"""Demo accounts for ``make run`` (and ``manage.py demo``)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

DEMO_USERS = (("alice", "alice-demo-1"), ("bob", "bob-demo-1"), ("carol", "carol-demo-1"))


def demo_users_ensure() -> list[tuple[str, str]]:
    """Create the demo users if missing (password reset to the demo one); return the logins.

    A password that already is the demo one is left alone: setting it again
    makes a new hash, which ends the user's sessions and closes their open
    sockets (``note.revocations``), and ``make demo`` runs beside an open page.
    """
    User = get_user_model()
    for username, password in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        if not user.check_password(password):
            user.set_password(password)
            user.save()
    return list(DEMO_USERS)
