"""System checks for the inbox's settings: a wrong value is a message at start-up."""

from __future__ import annotations

from django.core import checks

from note import conf
from notes_client.protocol import MAX_FRAME_BYTES

# What a note frame adds around the note, and what a translated title may add.
FRAME_ENVELOPE = 4 * 1024


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
