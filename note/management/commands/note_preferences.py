"""``manage.py note_preferences USER``: show or change a user's note preferences."""

import json

from django.core.management.base import BaseCommand, CommandError

from note.preferences import UNSET, PreferenceError, note_preferences, note_preferences_set
from note.tokens import user_by_name
from notes_client.protocol import CHANNELS

CHOICES = {"on": True, "off": False, "default": None}


class Command(BaseCommand):
    help = (
        "Show USER's note preferences as JSON (last line of stdout), after changing them "
        "as asked. Open sockets of USER take the change at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--mute", action="append", default=[], metavar="KIND")
        parser.add_argument("--unmute", action="append", default=[], metavar="KIND")
        parser.add_argument(
            "--reset", action="append", default=[], metavar="KIND", help="back to the default"
        )
        parser.add_argument(
            "--quiet-minutes", type=int, metavar="N", help="do not disturb for N minutes (0: end)"
        )
        parser.add_argument(
            "--count-muted",
            choices=("yes", "no"),
            help="whether notes of muted kinds count as unread",
        )

        parser.add_argument(
            "--channel",
            action="append",
            default=[],
            metavar="KIND:CHANNEL=on|off|default",
            help="whether KIND (or * for every kind) reaches USER by CHANNEL "
            f"({', '.join(CHANNELS)}); default drops the choice",
        )

    def handle(
        self, *args, username, mute, unmute, reset, quiet_minutes, count_muted, channel, **opts
    ):
        try:
            user = user_by_name(username, create=False)
        except Exception:
            raise CommandError(f"no user named {username!r}") from None
        channels = [_channel_choice(text) for text in channel]
        if (
            not (mute or unmute or reset or channels)
            and quiet_minutes is None
            and count_muted is None
        ):
            self.stdout.write(json.dumps(note_preferences(user=user).wire()))
            return
        if quiet_minutes is not None and quiet_minutes < 0:
            raise CommandError("--quiet-minutes must be 0 or more")
        try:
            result = note_preferences_set(
                user=user,
                mute=mute,
                unmute=unmute,
                reset=reset,
                quiet_seconds=UNSET if quiet_minutes is None else quiet_minutes * 60,
                count_muted=UNSET if count_muted is None else count_muted == "yes",
                channels=channels,
            )
        except PreferenceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(result.preferences.wire()))


def _channel_choice(text: str) -> tuple[str, str, bool | None]:
    """``chat:desktop=off`` -> ("chat", "desktop", False)."""
    kind, _, rest = text.rpartition(":")
    channel, _, choice = rest.partition("=")
    if not kind or channel not in CHANNELS or choice not in CHOICES:
        raise CommandError(
            f"--channel takes KIND:CHANNEL=on|off|default, CHANNEL one of "
            f"{', '.join(CHANNELS)}, not {text!r}"
        )
    return kind, channel, CHOICES[choice]
