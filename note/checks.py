"""System checks for the inbox's settings: a wrong value is a message at start-up."""

from __future__ import annotations

from django.core import checks

from note import conf
from notes_client.protocol import MAX_FRAME_BYTES

# What a note frame adds around the note, and what a translated title may add.
FRAME_ENVELOPE = 4 * 1024


@checks.register()
def check_note_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
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
def check_data_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    limit, note_limit = conf.MAX_DATA_BYTES, conf.MAX_NOTE_BYTES
    ceiling = note_limit if type(note_limit) is int else MAX_FRAME_BYTES
    if type(limit) is not int or not 2 <= limit <= ceiling:
        return [
            checks.Error(
                f"NOTES_MAX_DATA_BYTES must be a whole number of bytes from 2 to "
                f"NOTES_MAX_NOTE_BYTES, not {limit!r}",
                hint="A note's data travels inside the note, so it cannot be larger than it.",
                id="note.E002",
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
                id="note.E003",
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
                    id="note.E004",
                )
            )
    return errors
