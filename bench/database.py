"""The bench's own PostgreSQL database and Django set-up for the orchestrator.

The orchestrator is a Django process of the real app: it creates users and
tokens, and publishes notes with the real service functions, whose
``transaction.on_commit`` hands them to the Redis layer exactly as a server
process would. PostgreSQL rather than SQLite because a connect storm is many
concurrent readers and the production database is PostgreSQL; the bench
database is dropped and created afresh on every run, so runs are comparable.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("BENCH_DATABASE", "bench_notes")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def database_url() -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{DATABASE}"))


def server_env(prefix: str) -> dict[str, str]:
    """What our server processes (and the orchestrator) are configured with."""
    return {
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "CHANNEL_LAYER_PREFIX": prefix,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Thousands of sockets and posts from one address and a few users: the
        # bench measures delivery, not the limits (docs/security.md).
        **{
            name: "off"
            for name in (
                "LIMIT_HANDSHAKES_PER_ADDRESS",
                "LIMIT_HANDSHAKES_PER_USER",
                "LIMIT_SOCKETS_PER_USER",
                "LIMIT_PUBLISH_PER_USER",
                "LIMIT_MARK_READ_PER_USER",
            )
        },
    }


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def setup_django(prefix: str) -> None:
    """Configure this process as the app (settings read the environment once)."""
    os.environ.update(server_env(prefix))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LOG_LEVEL"] = "WARNING"  # this process only: servers keep the default
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@dataclass
class BenchUser:
    id: int
    username: str
    token: str


def create_users(count: int) -> list[BenchUser]:
    """``count`` users with one API token each, in bulk (tokens hashed as the app does)."""
    from django.contrib.auth import get_user_model

    from note.models import ApiToken
    from note.tokens import TOKEN_PREFIX, secret_hash

    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-{i:05d}", password="!") for i in range(count)], batch_size=1000
    )
    raw = [TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in users]
    ApiToken.objects.bulk_create(
        [
            ApiToken(user=user, key_hash=secret_hash(token), prefix=token[:12])
            for user, token in zip(users, raw, strict=True)
        ],
        batch_size=1000,
    )
    return [
        BenchUser(id=u.pk, username=u.username, token=t) for u, t in zip(users, raw, strict=True)
    ]


def close_connections() -> None:
    from django.db import connections

    connections.close_all()


def create_users_named(names: list[str]) -> list[BenchUser]:
    from django.contrib.auth import get_user_model

    from note.tokens import token_issue

    User = get_user_model()
    out = []
    for name in names:
        user = User.objects.create(username=name, password="!")
        out.append(BenchUser(id=user.pk, username=name, token=token_issue(user=user)))
    return out
