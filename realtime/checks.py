"""System checks for delivery: settings that cannot work, and set-ups that will not scale.

Each message says what to change. They run with ``manage.py check`` and at
the start of ``runserver``, ``migrate`` and the test runner.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from note import inbox
from realtime import conf

POSITIVE_NUMBERS = {
    "NOTES_CATCH_UP_SECONDS": (float, int),
    "NOTES_WS_RATE_PER_SECOND": (float, int),
    "NOTES_WS_DRAIN_TIMEOUT_SECONDS": (float, int),
    "NOTES_DB_THREADS": (int,),
    "NOTES_DB_USER_SHARE": (int,),
    "NOTES_DB_QUEUE_LIMIT": (int,),
    "NOTES_DB_TIMEOUT_SECONDS": (float, int),
    "NOTES_DB_QUEUE_TIMEOUT_SECONDS": (float, int),
    "NOTES_REPLAYS_AT_ONCE": (int,),
    "NOTES_ANONYMOUS_REPLAY_NOTES": (int,),
    "NOTES_WS_RATE_BURST": (int,),
    "NOTES_WS_FLOOD_STRIKES": (int,),
    "NOTES_WS_MAX_BUFFER_BYTES": (int,),
}


@checks.register()
def check_realtime_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for name, types in POSITIVE_NUMBERS.items():
        value = getattr(conf, name.removeprefix("NOTES_"))
        if type(value) not in types or value <= 0:
            kind = "whole number" if types == (int,) else "number"
            messages.append(
                checks.Error(
                    f"{name} must be a positive {kind}, not {value!r}",
                    hint=f"Remove it to use the default, {conf.DEFAULTS[name]!r}.",
                    id="realtime.E001",
                )
            )
    ips = conf.METRICS_ALLOWED_IPS
    if isinstance(ips, str) or not all(isinstance(ip, str) for ip in ips):
        messages.append(
            checks.Error(
                "NOTES_METRICS_ALLOWED_IPS must be a list of addresses, not a string",
                hint='For example ["127.0.0.1", "::1"].',
                id="realtime.E002",
            )
        )
    origins = conf.ALLOWED_ORIGINS
    if origins is not None and (
        isinstance(origins, str)
        or not all(isinstance(o, str) and "://" in o and o.split("://")[1] for o in origins)
    ):
        messages.append(
            checks.Error(
                f"NOTES_ALLOWED_ORIGINS must list origins with their scheme, not {origins!r}",
                hint='For example ["https://app.example.com", "http://localhost:5173"].',
                id="realtime.E004",
            )
        )
    installed = settings.INSTALLED_APPS
    if "channels" not in installed:
        messages.append(
            checks.Error(
                '"channels" is not in INSTALLED_APPS',
                hint='Add "daphne" (first) and "channels" next to "note", "realtime", "frontend".',
                id="realtime.E003",
            )
        )
    layers = getattr(settings, "CHANNEL_LAYERS", {}) or {}
    if conf.CHANNEL_LAYER not in layers and not settings.DEBUG:
        messages.append(
            checks.Warning(
                f"No channel layer {conf.CHANNEL_LAYER!r} in CHANNEL_LAYERS: notes reach only "
                "the sockets of the process that sent them (in-memory layer)",
                hint="With more than one server process, configure channels-redis: "
                'CHANNEL_LAYERS = {"default": {"BACKEND": '
                '"channels_redis.pubsub.RedisPubSubChannelLayer", '
                '"CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]}}}',
                id="realtime.W002",
            )
        )
    messages += _sqlite_writers_wait()
    messages += _token_cache_settings()
    return messages


def _token_cache_settings() -> list[checks.CheckMessage]:
    """The token cache's lifetime may not outlast the change log it is checked against."""
    found = []
    seconds, skew = conf.TOKEN_CACHE_SECONDS, conf.TOKEN_CACHE_SKEW_SECONDS
    kept = inbox.CHANGES_KEPT.total_seconds()
    if seconds is not None and (type(seconds) not in (int, float) or not 0 < seconds <= kept):
        found.append(
            checks.Error(
                f"NOTES_TOKEN_CACHE_SECONDS must be None or a number of seconds from 1 to "
                f"{int(kept)}, not {seconds!r}",
                hint="A cached token is checked against the log of credential changes, which "
                f"is kept {int(kept)} s; None turns the cache off. "
                f"Default: {conf.DEFAULTS['NOTES_TOKEN_CACHE_SECONDS']!r}.",
                id="realtime.E010",
            )
        )
    if type(skew) not in (int, float) or skew < 0:
        found.append(
            checks.Error(
                f"NOTES_TOKEN_CACHE_SKEW_SECONDS must be a number of seconds, 0 or more, "
                f"not {skew!r}",
                hint="The largest difference between the clocks of your server hosts. "
                f"Default: {conf.DEFAULTS['NOTES_TOKEN_CACHE_SKEW_SECONDS']!r}.",
                id="realtime.E011",
            )
        )
    prefix = conf.TOKEN_CACHE_PREFIX
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        found.append(
            checks.Error(
                f"NOTES_TOKEN_CACHE_PREFIX must be a non-empty text without spaces, not {prefix!r}",
                hint=f"Default: {conf.DEFAULTS['NOTES_TOKEN_CACHE_PREFIX']!r}.",
                id="realtime.E012",
            )
        )
    return found


def _sqlite_writers_wait() -> list[checks.CheckMessage]:
    """SQLite with deferred transactions: a second writer makes requests fail.

    The server processes write too (who is connected, for the email digest;
    tokens' last use). On SQLite a transaction that read first and then
    writes while another connection writes gets "database is locked" at once,
    whatever the timeout; ``transaction_mode="IMMEDIATE"`` (Django 5.1+) makes
    every transaction take the write lock when it begins, and wait for it.
    """
    found = []
    for alias, db in settings.DATABASES.items():
        options = db.get("OPTIONS") or {}
        if db.get("ENGINE") == "django.db.backends.sqlite3" and (
            str(options.get("transaction_mode", "")).upper() != "IMMEDIATE"
        ):
            found.append(
                checks.Warning(
                    f"SQLite database {alias!r} without transaction_mode IMMEDIATE: with the "
                    "server's own writes beside your requests', a request may fail with "
                    '"database is locked"',
                    hint=f'DATABASES["{alias}"]["OPTIONS"] = {{"transaction_mode": "IMMEDIATE", '
                    '"timeout": 20}} (docs/integrate.md, "Settings"); PostgreSQL and MariaDB '
                    "need nothing.",
                    id="realtime.W003",
                )
            )
    return found
