"""End-to-end fixtures: committed data and real daphne processes.

Server processes cannot see a test's uncommitted transaction, so these tests
write through ``e2e_db`` (committed at once, no per-test rollback) with
unique usernames, and the tables are flushed once the module's servers stop.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command

from tests.support.daphne import DaphneServer
from tests.support.services import database_url_for_subprocess


@pytest.fixture(scope="module")
def e2e_db(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        yield
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def start_server(e2e_db):
    """Factory: ``start_server(redis_url=None, app=..., daphne_args=(), **env)`` -> a running
    DaphneServer.

    Every server it started is stopped when the module ends.
    """
    servers: list[DaphneServer] = []
    prefix = f"rt-e2e-{uuid.uuid4().hex[:8]}"

    def start(
        *,
        redis_url: str | None = None,
        layer_prefix: str = prefix,
        app: str = "asgi:application",
        daphne_args: tuple[str, ...] = (),
        **env: str,
    ):
        server = DaphneServer(
            database_url=database_url_for_subprocess(),
            redis_url=redis_url,
            layer_prefix=layer_prefix,
            extra_env=env,
            app=app,
            daphne_args=daphne_args,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(start_server):
    """One daphne process with the in-memory layer (what ``make run`` serves)."""
    return start_server()
