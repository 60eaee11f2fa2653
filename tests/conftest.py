"""Fixtures shared by the whole suite.

Real parts only: the test database (SQLite file, or PostgreSQL or MariaDB
via ``DATABASE_URL``), the machine's Redis (``TEST_REDIS_URL``, default
127.0.0.1:6379) under a private key prefix, private ``redis-server``
processes for anything that stops Redis, and real ``daphne`` processes on
free ports. Under ``CI=true`` a missing Redis, database or Chromium fails
the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.services import missing, redis_available

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis; tests keep to their own channel-layer prefix on it."""
    if not redis_available(TEST_REDIS_URL):
        missing(f"Redis is not reachable at {TEST_REDIS_URL}")
    return TEST_REDIS_URL


@pytest.fixture
def layer_prefix() -> str:
    return f"rt-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _fresh_publisher():
    """Each test starts with a publisher bound to no event loop (tests open and close loops)."""
    from realtime.publisher import publisher

    publisher.flush(timeout=2)
    yield
    publisher.flush(timeout=2)


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """Always create the test database.

    pytest-django only creates it when a collected test carries ``django_db``;
    end-to-end modules use committed data instead (``e2e_db``) and would
    otherwise run against the real database.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        _end_stray_sessions()
        teardown_databases(config, verbosity=0)


def _end_stray_sessions() -> None:
    """End the other sessions on the test database before it is dropped.

    PostgreSQL refuses to drop a database with sessions open, and MariaDB's
    DROP DATABASE waits (for a year, by default) for any session still inside a
    transaction on its tables: a pooled connection of a worker thread, or a
    server process still exiting, must not fail or hang the run."""
    from django.db import connection
    from django.db.utils import OperationalError

    if connection.vendor not in {"postgresql", "mysql"}:
        return
    name = connection.settings_dict["NAME"]
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()
        with connection._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        return
    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
            [name],
        )
        for (session,) in cursor.fetchall():
            try:
                cursor.execute("KILL CONNECTION %s", [int(session)])
            except OperationalError:
                pass  # it ended by itself meanwhile (unknown thread id)


@pytest.fixture(autouse=True)
def _fresh_limit_counts():
    """In-process limit counts start at zero in each test (user ids and addresses repeat)."""
    from note import limits

    limits.store().clear() if hasattr(limits.store(), "clear") else None
    limits._store_down_until = 0.0
    yield
