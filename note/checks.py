"""System checks for the inbox's settings: a wrong value is a message at start-up."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from note import conf
from note.addresses import trusted_networks
from note.limits import RATE_LIMITS, parse_rate
from notes_client.protocol import CHANNELS, MAX_FRAME_BYTES

# What a note frame adds around the note, and what a translated title may add.
FRAME_ENVELOPE = 4 * 1024


@checks.register()
def check_credential_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    every = conf.TOKEN_LAST_USED_SECONDS
    if type(every) is not int or every < 1:
        errors.append(
            checks.Error(
                f"NOTES_TOKEN_LAST_USED_SECONDS must be a whole number of seconds, 1 or more, "
                f"not {every!r}",
                hint="It is how often a token's last_used may be written; 300 is the default.",
                id="note.E003",
            )
        )
    ticket = conf.TICKET_SECONDS
    if type(ticket) is not int or not 1 <= ticket <= 3600:
        errors.append(
            checks.Error(
                f"NOTES_TICKET_SECONDS must be a whole number of seconds from 1 to 3600, "
                f"not {ticket!r}",
                hint="A connect ticket is meant to be used at once; 30 is the default.",
                id="note.E004",
            )
        )
    return errors


@checks.register()
def check_note_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return _check_max_note_bytes() + _check_stamp_sweep()


def _check_stamp_sweep() -> list[checks.CheckMessage]:
    sweep = conf.STAMP_SWEEP_SECONDS
    if isinstance(sweep, bool) or not isinstance(sweep, int | float) or not 0 < sweep <= 3600:
        return [
            checks.Error(
                f"NOTES_STAMP_SWEEP_SECONDS must be a number of seconds above 0 and at most "
                f"3600, not {sweep!r}",
                hint="It is how long a committed note may wait for its id when its sender "
                "died before stamping it; the default is 2.0.",
                id="note.E002",
            )
        ]
    return []


def _check_max_note_bytes() -> list[checks.CheckMessage]:
    limit = conf.MAX_NOTE_BYTES
    ceiling = MAX_FRAME_BYTES - FRAME_ENVELOPE
    if type(limit) is not int or not 1024 <= limit <= ceiling:
        return [
            checks.Error(
                f"NOTES_MAX_NOTE_BYTES must be a whole number of bytes from 1024 to {ceiling}, "
                f"not {limit!r}",
                hint=f"Notes larger than that would not fit the protocol's "
                f"{MAX_FRAME_BYTES // 1024} KiB frames.",
                id="note.E001",
            )
        ]
    return []


@checks.register()
def check_limit_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for name in RATE_LIMITS:
        try:
            parse_rate(getattr(conf, f"LIMIT_{name}"))
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(f"NOTES_LIMIT_{name}: {exc}", id="note.E005"))
    sockets = conf.LIMIT_SOCKETS_PER_USER
    if sockets is not None and (type(sockets) is not int or sockets < 1):
        errors.append(
            checks.Error(
                f"NOTES_LIMIT_SOCKETS_PER_USER must be a whole number from 1, or None, "
                f"not {sockets!r}",
                id="note.E006",
            )
        )
    limits_redis = conf.LIMITS_REDIS
    if limits_redis is not None and not (
        (isinstance(limits_redis, str) and limits_redis.startswith(("redis://", "rediss://")))
        or (isinstance(limits_redis, dict) and {"sentinels", "master_name"} <= set(limits_redis))
    ):
        errors.append(
            checks.Error(
                f"NOTES_LIMITS_REDIS must be None, a redis:// URL or "
                f'{{"sentinels": [...], "master_name": ...}}, not {limits_redis!r}',
                id="note.E007",
            )
        )
    proxies = conf.TRUSTED_PROXIES
    try:
        if isinstance(proxies, str):
            raise ValueError("a list of addresses, not one string")
        trusted_networks(tuple(proxies or ()))
    except (TypeError, ValueError) as exc:
        errors.append(
            checks.Error(
                f"NOTES_TRUSTED_PROXIES must list IP addresses or networks: {exc}",
                hint='e.g. ["127.0.0.1", "10.0.0.0/8"]',
                id="note.E008",
            )
        )
    return errors


@checks.register()
def check_data_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    limit, note_limit = conf.MAX_DATA_BYTES, conf.MAX_NOTE_BYTES
    ceiling = note_limit if type(note_limit) is int else MAX_FRAME_BYTES
    if type(limit) is not int or not 2 <= limit <= ceiling:
        return [
            checks.Error(
                f"NOTES_MAX_DATA_BYTES must be a whole number of bytes from 2 to "
                f"NOTES_MAX_NOTE_BYTES, not {limit!r}",
                hint="A note's data travels inside the note, so it cannot be larger than it.",
                id="note.E009",
            )
        ]
    return []


@checks.register()
def check_opt_in_kinds(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    kinds = conf.OPT_IN_KINDS
    if (
        isinstance(kinds, str)
        or not isinstance(kinds, list | tuple | set | frozenset)
        or not all(isinstance(k, str) and 0 < len(k) <= 64 for k in kinds)
    ):
        return [
            checks.Error(
                f"NOTES_OPT_IN_KINDS must be a list of note kinds (texts of 1 to 64 characters), "
                f"not {kinds!r}",
                hint='For example NOTES_OPT_IN_KINDS = ["digest.weekly"].',
                id="note.E010",
            )
        ]
    return []


@checks.register()
def check_retention(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for name, value in (
        ("NOTES_RETENTION_DAYS", conf.RETENTION_DAYS),
        ("NOTES_RETENTION_PER_USER", conf.RETENTION_PER_USER),
    ):
        if value is not None and (type(value) is not int or value < 1):
            errors.append(
                checks.Error(
                    f"{name} must be None (keep every note) or a whole number of 1 or more, "
                    f"not {value!r}",
                    id="note.E011",
                )
            )
    return errors


@checks.register()
def check_channel_defaults(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``NOTES_CHANNEL_DEFAULTS``: kind (or "*") -> channels a kind reaches users by."""
    defaults = conf.CHANNEL_DEFAULTS
    example = 'e.g. {"*": ["toast", "desktop", "email"], "chat": ["toast"]}'
    if not isinstance(defaults, dict) or not all(
        isinstance(kind, str)
        and 0 < len(kind) <= 64
        and isinstance(channels, list | tuple | set | frozenset)
        and all(isinstance(c, str) for c in channels)
        for kind, channels in defaults.items()
    ):
        return [
            checks.Error(
                f'NOTES_CHANNEL_DEFAULTS must map note kinds (or "*" for every other kind) '
                f"to lists of channels, not {defaults!r}",
                hint=example,
                id="note.E015",
            )
        ]
    unknown = sorted({c for channels in defaults.values() for c in channels} - set(CHANNELS))
    if unknown:
        return [
            checks.Error(
                f"NOTES_CHANNEL_DEFAULTS names channels that do not exist: {', '.join(unknown)}",
                hint=f"The channels are {', '.join(CHANNELS)}; {example}.",
                id="note.E016",
            )
        ]
    return []


# name -> (least, most, id): whole numbers of the email digest (note.digest).
DIGEST_WHOLE_NUMBERS = {
    "NOTES_PRESENCE_SECONDS": (1, 3600, "note.E020"),
    "NOTES_DIGEST_AWAY_SECONDS": (2, 366 * 24 * 3600, "note.E021"),
    "NOTES_DIGEST_PERIOD_SECONDS": (1, 366 * 24 * 3600, "note.E022"),
    "NOTES_DIGEST_MAX_NOTES": (1, 200, "note.E024"),
    "NOTES_DIGEST_BATCH": (1, 10000, "note.E025"),
    "NOTES_DIGEST_LEASE_SECONDS": (10, 24 * 3600, "note.E026"),
    "NOTES_DIGEST_RETRY_SECONDS": (1, 3600, "note.E027"),
    "NOTES_DIGEST_UNSUBSCRIBE_SECONDS": (3600, 366 * 24 * 3600, "note.E028"),
    "NOTES_DIGEST_INTERVAL_SECONDS": (1, 24 * 3600, "note.E029"),
}


@checks.register()
def check_digest_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from urllib.parse import urlsplit

    errors = []
    for name, (least, most, check_id) in DIGEST_WHOLE_NUMBERS.items():
        value = getattr(conf, name.removeprefix("NOTES_"))
        if type(value) is not int or not least <= value <= most:
            errors.append(
                checks.Error(
                    f"{name} must be a whole number from {least} to {most}, not {value!r}",
                    hint=f"The default is {conf.DEFAULTS[name]!r} (docs/integrate.md).",
                    id=check_id,
                )
            )
    away, presence = conf.DIGEST_AWAY_SECONDS, conf.PRESENCE_SECONDS
    if type(away) is int and type(presence) is int and away < 2 * presence:
        errors.append(
            checks.Error(
                f"NOTES_DIGEST_AWAY_SECONDS ({away}) must be at least twice "
                f"NOTES_PRESENCE_SECONDS ({presence})",
                hint="A connected user is written as seen only every NOTES_PRESENCE_SECONDS: a "
                "shorter away time would mail people who are looking at the page.",
                id="note.E021",
            )
        )
    base, sender = conf.DIGEST_BASE_URL, conf.DIGEST_FROM_EMAIL
    parts = urlsplit(base) if isinstance(base, str) else None
    if not isinstance(base, str) or (
        base and (parts.scheme not in {"http", "https"} or not parts.netloc or parts.query)
    ):
        errors.append(
            checks.Error(
                f"NOTES_DIGEST_BASE_URL must be the site's http(s) address or empty, not {base!r}",
                hint="For example 'https://notes.example.com' (the email's links start with it).",
                id="note.E023",
            )
        )
    if sender is not None and (not isinstance(sender, str) or not sender.strip()):
        errors.append(
            checks.Error(
                f"NOTES_DIGEST_FROM_EMAIL must be an address or None, not {sender!r}",
                hint="None sends from Django's DEFAULT_FROM_EMAIL.",
                id="note.E023",
            )
        )
    return errors


def _number(value, *, whole: bool = False) -> bool:
    kinds = int if whole else int | float
    return not isinstance(value, bool) and isinstance(value, kinds)


# (setting, lowest, highest, whole number?, check id, what it is)
WEBHOOK_LIMITS = [
    ("WEBHOOK_TIMEOUT_SECONDS", 0.1, 300, False, "note.E030", "one POST's time limit"),
    ("WEBHOOK_MAX_RESPONSE_BYTES", 0, 10 * 1024 * 1024, True, "note.E031", "answer bytes read"),
    ("WEBHOOK_CONCURRENCY", 1, 256, True, "note.E032", "POSTs in flight per worker"),
    ("WEBHOOK_QUEUE_PER_ENDPOINT", 1, 10_000_000, True, "note.E033", "deliveries queued"),
    ("WEBHOOK_MAX_PAYLOAD_BYTES", 1024, 16 * 1024 * 1024, True, "note.E034", "body bytes"),
    ("WEBHOOK_RETRY_BASE_SECONDS", 0.01, 3600, False, "note.E035", "first back-off"),
    ("WEBHOOK_RETRY_MAX_SECONDS", 0.01, 7 * 24 * 3600, False, "note.E036", "back-off cap"),
    ("WEBHOOK_DISABLE_AFTER_FAILURES", 1, 10**9, True, "note.E037", "failures before disabling"),
    ("WEBHOOK_DISABLE_AFTER_SECONDS", 0, 365 * 24 * 3600, False, "note.E038", "failing time"),
    ("WEBHOOK_POLL_SECONDS", 0.01, 3600, False, "note.E039", "an idle worker's wait"),
]


@checks.register()
def check_webhook_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Each webhook bound is a number in a range; the back-off cap is not below its base."""
    errors = []
    for name, low, high, whole, check_id, meaning in WEBHOOK_LIMITS:
        value = getattr(conf, name)
        if not _number(value, whole=whole) or not low <= value <= high:
            errors.append(
                checks.Error(
                    f"NOTES_{name} must be a {'whole ' if whole else ''}number from {low} to "
                    f"{high}, not {value!r}",
                    hint=f"It is {meaning} (docs/webhooks.md); the default is "
                    f"{conf.DEFAULTS['NOTES_' + name]!r}.",
                    id=check_id,
                )
            )
    base, cap = conf.WEBHOOK_RETRY_BASE_SECONDS, conf.WEBHOOK_RETRY_MAX_SECONDS
    if not errors and cap < base:
        errors.append(
            checks.Error(
                f"NOTES_WEBHOOK_RETRY_MAX_SECONDS ({cap!r}) is below "
                f"NOTES_WEBHOOK_RETRY_BASE_SECONDS ({base!r})",
                hint="The cap bounds the exponential back-off that starts at the base.",
                id="note.E036",
            )
        )
    return errors
