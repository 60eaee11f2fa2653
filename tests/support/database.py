"""A database that hangs, for end-to-end tests: a table locked by another session.

Each vendor's own strongest lock, taken on a connection of the test's own
and held until the block ends. Every server query that touches the notes
table then waits: on PostgreSQL until the statement timeout, on MariaDB until
its ``max_statement_time``, on SQLite (the whole file is locked) until the
busy timeout. That is what a stuck migration, a runaway transaction or an
overloaded server looks like from the application.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from django.db import connection, models

from note.models import Note


def notes_table_locked() -> AbstractContextManager[None]:
    return table_locked(Note)


@contextmanager
def table_locked(model: type[models.Model]) -> Iterator[None]:
    """Every query of the server that touches ``model``'s table waits until the block ends."""
    settings = connection.settings_dict
    table = model._meta.db_table
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(settings["NAME"], isolation_level=None, timeout=20)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    elif connection.vendor == "postgresql":
        import psycopg

        locker = psycopg.connect(
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            dbname=settings["NAME"],
        )
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            locker.rollback()
            locker.close()
    elif connection.vendor == "mysql":
        import MySQLdb

        locker = MySQLdb.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=int(settings["PORT"] or 3306),
            user=settings["USER"],
            password=settings["PASSWORD"] or "",
            database=settings["NAME"],
        )
        cursor = locker.cursor()
        cursor.execute(f"LOCK TABLES {table} WRITE")
        try:
            yield
        finally:
            cursor.execute("UNLOCK TABLES")
            locker.close()
    else:  # pragma: no cover - the suite runs on these three
        raise NotImplementedError(connection.vendor)


def terminate_connections_of(server) -> int:
    """PostgreSQL: end every session of one server process, as a restart or failover would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [server.application_name],
        )
        return cursor.fetchone()[0]
