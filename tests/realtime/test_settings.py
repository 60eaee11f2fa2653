"""Settings come from the environment only, with safe defaults."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_in_subprocess(env: dict[str, str | None], code: str) -> subprocess.CompletedProcess:
    """``code`` under config.settings with ``env`` (development unless it says otherwise;
    a None value leaves that variable unset)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "REDIS_", "DATABASE_URL"))
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {code}",
        ],
        env={
            k: v
            for k, v in {
                **clean,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "1",
                **env,
            }.items()
            if v is not None
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_dev_secret_key():
    result = settings_in_subprocess({"DJANGO_DEBUG": "0"}, "print('started')")
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "DJANGO_SECRET_KEY" in result.stderr and "refusing to start" in result.stderr


def test_without_django_debug_the_settings_are_production():
    """A bare deployment (database and Redis set, nothing else) is not in debug mode."""
    bare = {
        "DJANGO_DEBUG": None,
        "DJANGO_SECRET_KEY": "x" * 50,
        "DATABASE_URL": "sqlite:///bare.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = settings_in_subprocess(bare, "print(settings.DEBUG)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    refused = settings_in_subprocess({"DJANGO_DEBUG": None}, "print('started')")
    assert "started" not in refused.stdout and "DJANGO_DEBUG=1" in refused.stderr


def test_production_starts_with_a_real_secret():
    result = settings_in_subprocess(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "a.example,b.example",
        },
        "print(settings.DEBUG, settings.ALLOWED_HOSTS)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['a.example', 'b.example']"


def test_defaults_are_sqlite_and_the_in_memory_layer():
    result = settings_in_subprocess(
        {},
        "db = settings.DATABASES['default']; layer = settings.CHANNEL_LAYERS['default']; "
        "print(db['ENGINE'], layer['BACKEND'], db['CONN_MAX_AGE'])",
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "0",
    ]


def test_database_url_and_redis_url_are_used():
    result = settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
        "db = settings.DATABASES['default']; layer = settings.CHANNEL_LAYERS['default']; "
        "print(db['ENGINE'], db['NAME'], layer['BACKEND'], layer['CONFIG']['hosts'][0]['address'])",
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "test",
        "channels_redis.pubsub.RedisPubSubChannelLayer",
        "redis://127.0.0.1:6379/0",
    ]


def test_a_mysql_url_gets_utf8mb4_and_read_committed():
    """MariaDB: four-byte UTF-8 for emoji, and the isolation level the services rely on."""
    result = settings_in_subprocess(
        {"DATABASE_URL": "mysql://notes:secret@db.example:3306/notes"},
        "db = settings.DATABASES['default']; "
        "print(db['ENGINE'], db['NAME'], db['OPTIONS'], db['TEST']['CHARSET'], sep='|')",
    )
    assert result.returncode == 0, result.stderr
    engine, name, options, test_charset = result.stdout.strip().split("|")
    assert (engine, name, test_charset) == ("django.db.backends.mysql", "notes", "utf8mb4")
    assert "'charset': 'utf8mb4'" in options
    assert "'isolation_level': 'read committed'" in options


def test_redis_sentinels_take_precedence_and_bad_ones_are_refused_clearly():
    result = settings_in_subprocess(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380",
            "REDIS_SENTINEL_MASTER": "notes",
        },
        "print(settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'])",
    )
    assert result.stdout.strip() == (
        "[{'sentinels': [('10.0.0.1', 26379), ('sentinel-b', 26380)], 'master_name': 'notes'}]"
    )
    bad = settings_in_subprocess({"REDIS_SENTINELS": "sentinel-a"}, "print('started')")
    assert bad.returncode != 0 and "REDIS_SENTINELS takes host:port pairs" in bad.stderr


def test_the_environment_sets_the_products_notes_settings():
    result = settings_in_subprocess(
        {"WS_RATE_PER_SECOND": "5.5", "WS_MAX_BUFFER_BYTES": "1000", "METRICS_TOKEN": "t"},
        "print(settings.NOTES_WS_RATE_PER_SECOND, settings.NOTES_WS_MAX_BUFFER_BYTES,"
        " settings.NOTES_METRICS_TOKEN)",
    )
    assert result.stdout.split() == ["5.5", "1000", "t"]


def test_a_number_that_is_not_one_is_refused_with_its_name():
    bad = settings_in_subprocess({"WS_RATE_BURST": "lots"}, "print('started')")
    assert bad.returncode != 0 and "WS_RATE_BURST must be a whole number, not 'lots'" in bad.stderr


def test_postgresql_and_mariadb_connections_have_connect_and_statement_timeouts():
    show = (
        "db = settings.DATABASES['default']; o = db['OPTIONS']; "
        "print(o.get('connect_timeout'), o.get('options') or o.get('init_command'), "
        "db['CONN_HEALTH_CHECKS'])"
    )
    postgres = settings_in_subprocess(
        {"DATABASE_URL": "postgres://u@db.example:5432/notes", "DATABASE_STATEMENT_TIMEOUT": "2.5"},
        show,
    )
    assert postgres.stdout.split() == ["10", "-c", "statement_timeout=2500", "True"]
    mariadb = settings_in_subprocess(
        {"DATABASE_URL": "mysql://u@db.example:3306/notes", "DATABASE_CONNECT_TIMEOUT": "3"},
        show,
    )
    assert mariadb.stdout.split() == ["3", "SET", "SESSION", "max_statement_time=10.0", "False"]
    off = settings_in_subprocess(
        {"DATABASE_URL": "postgres://u@db.example:5432/notes", "DATABASE_STATEMENT_TIMEOUT": "0"},
        "print(settings.DATABASES['default']['OPTIONS'].get('options'))",
    )
    assert off.stdout.strip() == "None"
