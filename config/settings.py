"""Django settings: the only module that reads the environment.

Every knob an operator can turn is an environment variable listed in the
README's configuration table (``tests/test_configuration_documented.py`` holds
the two equal); ``docs/deploy.md`` gives production's values.
Defaults are production's where safety is at stake (``DJANGO_DEBUG`` is off
unless set; ``make run`` and the tests set it) and a laptop's elsewhere:
SQLite in the project folder and the in-memory channel layer.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def _env_number(name: str, cast: type, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return cast(value)
    except ValueError:
        kind = "whole number" if cast is int else "number"
        raise ImproperlyConfigured(f"{name} must be a {kind}, not {value!r}") from None


DEV_SECRET_KEY = "django-insecure-dev-only-key-do-not-use-in-production"

# Production unless the environment says development: a deployment that sets
# only DATABASE_URL and REDIS_URL must never show Django's debug page (it
# printed REDIS_URL, password and all, on a database blip: issue 18).
# `make run`, `make demo` and the test suite set DJANGO_DEBUG=1.
DEBUG = _env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEV_SECRET_KEY
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off but DJANGO_SECRET_KEY is not set: refusing to start with the "
        "development secret key. Set DJANGO_SECRET_KEY to a long random value, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'. "
        "For development on your own machine, set DJANGO_DEBUG=1 instead (make run does)."
    )

ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    # Our apps before Django's: their translations win where the words are the
    # same ("Log out" is the admin's too, translated otherwise).
    "news",
    "frontend",
    "realtime",
    "note",
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last and sync-only: Django runs this whole chain in one thread (see its docstring).
    "frontend.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Under ASGI every request may run in a different thread, so persistent
# connections would pile up; Django's deployment checklist says keep 0.
# DATABASE_URL may be sqlite://, postgres:// or mysql:// (MariaDB, MySQL).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (and the test server processes) write at once: wait for
    # the lock instead of failing with "database is locked".
    # IMMEDIATE takes the write lock when a transaction starts, so two writers
    # queue up instead of one failing with "database is locked" on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
    # A file, not memory, so that the daphne processes of end-to-end tests share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_NAME") or str(BASE_DIR / ".test-db.sqlite3")
    }

# A database that does not answer must fail a request, not hold it (and its
# thread) forever: connecting and each statement have a time limit. The
# sockets' side waits NOTES_DB_TIMEOUT_SECONDS at most; these end the query
# itself. 0 turns a limit off (a long migration, say).
# The connect limit is the same bound as a PostgreSQL pool wait: fail, don't hang.
DATABASE_CONNECT_TIMEOUT = _env_number("DATABASE_CONNECT_TIMEOUT", int, 10)
DATABASE_STATEMENT_TIMEOUT = _env_number("DATABASE_STATEMENT_TIMEOUT", float, 10.0)

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # Pooled connections (Django 5.1+, psycopg_pool): CONN_MAX_AGE must stay 0
    # under ASGI, and without a pool every request would open a new backend.
    options["pool"] = {
        "min_size": 2,
        "max_size": _env_number("DATABASE_POOL_SIZE", int, 20),
        "timeout": 10,
    }
    # With health checks the pool tries each connection before handing it
    # out (psycopg_pool's ``check``): after PostgreSQL dropped its backends (a
    # restart, a failover) the pool handed out dead ones and the API answered
    # 500 until each had been tried (issue 19).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASE_CONNECT_TIMEOUT:
        options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    if DATABASE_STATEMENT_TIMEOUT:
        statement_ms = int(DATABASE_STATEMENT_TIMEOUT * 1000)
        options["options"] = f"{options.get('options', '')} -c statement_timeout={statement_ms}"
        options["options"] = options["options"].strip()

if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    # MariaDB (or MySQL) through mysqlclient, the "mysql" extra.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        # MariaDB's "utf8" is three bytes a character: no emoji, which notes carry.
        charset="utf8mb4",
        # Django's default for this backend, stated because the code relies on it:
        # like PostgreSQL, every statement sees what has committed (the catch-up
        # loop, the counts read under a lock in note_mark_read), and locking reads
        # take no gap locks, which under InnoDB's REPEATABLE READ deadlock two
        # transactions that create the same missing row (note.services).
        isolation_level="read committed",
    )
    options = DATABASES["default"]["OPTIONS"]
    if DATABASE_CONNECT_TIMEOUT:
        options["connect_timeout"] = DATABASE_CONNECT_TIMEOUT
    if DATABASE_STATEMENT_TIMEOUT:
        # MariaDB's own per-statement limit, in seconds (MySQL has only
        # max_execution_time, for SELECTs); read_timeout also ends a wait on a
        # server that went silent.
        options["read_timeout"] = int(DATABASE_STATEMENT_TIMEOUT) + 5
        options["init_command"] = f"SET SESSION max_statement_time={DATABASE_STATEMENT_TIMEOUT}"
    # Django 5.2 pools connections only for PostgreSQL, and CONN_MAX_AGE stays 0
    # (see above). So each request, and each call of a socket-side database
    # thread (realtime/db.py), opens its own short connection: about 1.5 ms on
    # the same host for connect, session settings, one query and close (MariaDB
    # reuses server threads from its thread cache). Size max_connections for
    # processes x (WS_DB_THREADS + requests in flight); put ProxySQL or MaxScale
    # in front if connects ever cost too much.
    # The test database gets the charset above and a collation that tells emoji
    # apart (utf8mb4_general_ci, the server default, takes any two as equal).
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_520_ci"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _sentinels(name: str) -> list[tuple[str, int]]:
    sentinels = []
    for item in _env_list(name, []):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(
                f"{name} takes host:port pairs separated by commas, not {item!r}"
            )
        sentinels.append((host, int(port)))
    return sentinels


REDIS_URL = os.environ.get("REDIS_URL") or None
# Redis Sentinel (a replicated Redis with failover): channels-redis asks these
# sentinels for the current master of REDIS_SENTINEL_MASTER. Takes precedence
# over REDIS_URL.
REDIS_SENTINELS = _sentinels("REDIS_SENTINELS")
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "mymaster")
if REDIS_SENTINELS:
    _redis_host: dict | None = {"sentinels": REDIS_SENTINELS, "master_name": REDIS_SENTINEL_MASTER}
elif REDIS_URL:
    _redis_host = {"address": REDIS_URL}
else:
    _redis_host = None  # the in-memory layer: one process

if _redis_host:
    CHANNEL_LAYERS = {
        "default": {
            # One PUBLISH per group message, whatever the number of listeners:
            # the fan-out to sockets happens in each process (realtime/hub.py).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [_redis_host],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "realtime"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]  # the login page; each app ships its own
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS, for `manage.py check --deploy` and browsers: docs/deploy.md turns these
# on. Off by default, because HSTS cannot be taken back once browsers saw it.
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes inside the network
SECURE_HSTS_SECONDS = _env_number("DJANGO_HSTS_SECONDS", int, 0)
# Preloading (hstspreload.org) requires includeSubDomains too.
SECURE_HSTS_PRELOAD = SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_HSTS_PRELOAD", False)

# The product's own settings (NOTES_*): each app documents its defaults in
# note/conf.py and realtime/conf.py; here the environment may change them.
NOTES_WS_MAX_BUFFER_BYTES = _env_number("WS_MAX_BUFFER_BYTES", int, 512 * 1024)
NOTES_WS_DRAIN_TIMEOUT_SECONDS = _env_number("WS_DRAIN_TIMEOUT_SECONDS", float, 30.0)
NOTES_WS_RATE_PER_SECOND = _env_number("WS_RATE_PER_SECOND", float, 20.0)
NOTES_WS_RATE_BURST = _env_number("WS_RATE_BURST", int, 40)
NOTES_WS_FLOOD_STRIKES = _env_number("WS_FLOOD_STRIKES", int, 20)
NOTES_DB_THREADS = _env_number("WS_DB_THREADS", int, 8)
NOTES_DB_USER_SHARE = _env_number("WS_DB_USER_SHARE", int, 2)
NOTES_DB_QUEUE_LIMIT = _env_number("WS_DB_QUEUE_LIMIT", int, 10000)
NOTES_DB_TIMEOUT_SECONDS = _env_number("WS_DB_TIMEOUT_SECONDS", float, 5.0)
NOTES_DB_QUEUE_TIMEOUT_SECONDS = _env_number("WS_DB_QUEUE_TIMEOUT_SECONDS", float, 30.0)
NOTES_REPLAYS_AT_ONCE = _env_number("WS_REPLAYS_AT_ONCE", int, 4)
NOTES_ANONYMOUS_REPLAY_NOTES = _env_number("WS_ANONYMOUS_REPLAY_NOTES", int, 100)
NOTES_CATCH_UP_SECONDS = _env_number("NOTES_CATCH_UP_SECONDS", float, 1.0)
NOTES_STAMP_SWEEP_SECONDS = _env_number("NOTES_STAMP_SWEEP_SECONDS", float, 2.0)
# Outbound webhooks (manage.py run_webhooks; docs/webhooks.md).
NOTES_WEBHOOK_TIMEOUT_SECONDS = _env_number("WEBHOOK_TIMEOUT_SECONDS", float, 10.0)
NOTES_WEBHOOK_MAX_RESPONSE_BYTES = _env_number("WEBHOOK_MAX_RESPONSE_BYTES", int, 64 * 1024)
NOTES_WEBHOOK_CONCURRENCY = _env_number("WEBHOOK_CONCURRENCY", int, 4)
NOTES_WEBHOOK_QUEUE_PER_ENDPOINT = _env_number("WEBHOOK_QUEUE_PER_ENDPOINT", int, 10_000)
NOTES_WEBHOOK_MAX_PAYLOAD_BYTES = _env_number("WEBHOOK_MAX_PAYLOAD_BYTES", int, 64 * 1024)
NOTES_WEBHOOK_RETRY_BASE_SECONDS = _env_number("WEBHOOK_RETRY_BASE_SECONDS", float, 5.0)
NOTES_WEBHOOK_RETRY_MAX_SECONDS = _env_number("WEBHOOK_RETRY_MAX_SECONDS", float, 600.0)
NOTES_WEBHOOK_DISABLE_AFTER_FAILURES = _env_number("WEBHOOK_DISABLE_AFTER_FAILURES", int, 20)
NOTES_WEBHOOK_DISABLE_AFTER_SECONDS = _env_number("WEBHOOK_DISABLE_AFTER_SECONDS", float, 86400.0)
NOTES_WEBHOOK_POLL_SECONDS = _env_number("WEBHOOK_POLL_SECONDS", float, 1.0)


# Limits per user and per address (note.limits): a rate "count/window" such as
# "30/1m", or "off". Counted in Redis (shared by every process) when there is one.
def _env_rate(name: str, default: str | None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return None if value.strip().lower() in {"off", "none", "0"} else value.strip()


NOTES_LIMIT_LOGIN_PER_ADDRESS = _env_rate("LIMIT_LOGIN_PER_ADDRESS", "30/5m")
NOTES_LIMIT_LOGIN_PER_USERNAME = _env_rate("LIMIT_LOGIN_PER_USERNAME", "10/5m")
NOTES_LIMIT_PUBLISH_PER_USER = _env_rate("LIMIT_PUBLISH_PER_USER", "30/1m")
NOTES_LIMIT_MARK_READ_PER_USER = _env_rate("LIMIT_MARK_READ_PER_USER", "120/1m")
NOTES_LIMIT_HANDSHAKES_PER_ADDRESS = _env_rate("LIMIT_HANDSHAKES_PER_ADDRESS", "50/1s")
NOTES_LIMIT_HANDSHAKES_PER_USER = _env_rate("LIMIT_HANDSHAKES_PER_USER", "10/1s")
_sockets_per_user = _env_rate("LIMIT_SOCKETS_PER_USER", "30")
NOTES_LIMIT_SOCKETS_PER_USER = (
    None if _sockets_per_user is None else _env_number("LIMIT_SOCKETS_PER_USER", int, 30)
)
# The channel layer's Redis (or its sentinels) keeps the counts too.
NOTES_LIMITS_REDIS = (
    {"sentinels": REDIS_SENTINELS, "master_name": REDIS_SENTINEL_MASTER}
    if REDIS_SENTINELS
    else REDIS_URL
)
NOTES_LIMITS_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "realtime") + ":limits"
# Token handshakes checked from a cache in that Redis (realtime.tokencache);
# TOKEN_CACHE_SECONDS=off reads the database for every one.
_token_cache_seconds = _env_rate("TOKEN_CACHE_SECONDS", str(3 * 3600))
NOTES_TOKEN_CACHE_SECONDS = (
    None if _token_cache_seconds is None else _env_number("TOKEN_CACHE_SECONDS", int, 3 * 3600)
)
NOTES_TOKEN_CACHE_SKEW_SECONDS = _env_number("TOKEN_CACHE_SKEW_SECONDS", float, 2.0)
NOTES_TOKEN_CACHE_PREFIX = os.environ.get("CHANNEL_LAYER_PREFIX", "realtime") + ":tokens"
# Proxies whose X-Forwarded-For is believed (note.addresses); daphne runs
# without --proxy-headers, so nobody else can choose the address they appear from.
NOTES_TRUSTED_PROXIES = _env_list("TRUSTED_PROXIES", [])
if NOTES_TRUSTED_PROXIES:
    # Behind a proxy that terminates TLS, its X-Forwarded-Proto says https. Only
    # safe because the proxy sets it on every request and daphne listens on an
    # address that only the proxy reaches (docs/deploy.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Email digests (note.digest, manage.py send_digests) and the SMTP server they go to.
NOTES_DIGEST_BASE_URL = os.environ.get("DIGEST_BASE_URL", "")
NOTES_DIGEST_AWAY_SECONDS = _env_number("DIGEST_AWAY_SECONDS", int, 3600)
NOTES_DIGEST_PERIOD_SECONDS = _env_number("DIGEST_PERIOD_SECONDS", int, 24 * 3600)
NOTES_PRESENCE_SECONDS = _env_number("PRESENCE_SECONDS", int, 60)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _env_number("EMAIL_PORT", int, 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", False)
# A hanging SMTP server must not hold a digest worker (and its claims) for ever.
EMAIL_TIMEOUT = _env_number("EMAIL_TIMEOUT", int, 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")

# /metrics: not public; in development the machine itself may read it.
NOTES_METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
NOTES_METRICS_ALLOWED_IPS = _env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"] if DEBUG else [])

# LOG_FORMAT=json: one JSON object per line, event fields as keys (realtime/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "realtime": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        "note": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        "news": {"level": os.environ.get("LOG_LEVEL", "INFO")},
    },
}
