"""Channels: per user, per kind and per channel (toast, desktop, email), what reaches them.

``Preferences.delivers(kind, channel, now)`` is the one question every deliverer
asks (the page's toasts and desktop notifications, the email digest).
"""

import json
import re

import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django.test import override_settings

from note.preferences import PreferenceError, note_preferences, note_preferences_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def test_by_default_every_kind_goes_everywhere(alice):
    prefs = note_preferences(user=alice)
    assert all(prefs.delivers("order", c) for c in ("toast", "desktop", "email"))
    assert prefs.is_default


@override_settings(NOTES_CHANNEL_DEFAULTS={"*": ["toast"], "security": ["toast", "email"]})
def test_the_site_decides_the_channels_of_each_kind_until_the_user_chooses(alice):
    prefs = note_preferences(user=alice)
    assert prefs.delivers("order", "toast") and not prefs.delivers("order", "email")
    assert prefs.delivers("security", "email") and not prefs.delivers("security", "desktop")
    prefs = note_preferences_set(user=alice, channels=[("order", "email", True)]).preferences
    assert prefs.delivers("order", "email")
    assert note_preferences(user=alice).delivers("order", "email")  # as stored


def test_a_choice_for_a_kind_beats_the_choice_for_every_kind(alice):
    prefs = note_preferences_set(
        user=alice, channels=[("*", "email", False), ("invoice", "email", True)]
    ).preferences
    assert not prefs.delivers("order", "email") and prefs.delivers("invoice", "email")
    assert prefs.delivers("order", "toast")
    # null drops a choice: back to the user's "*", then to the site's default
    prefs = note_preferences_set(user=alice, channels=[("invoice", "email", None)]).preferences
    assert not prefs.delivers("invoice", "email")
    prefs = note_preferences_set(user=alice, channels=[("*", "email", None)]).preferences
    assert prefs.delivers("invoice", "email") and prefs.is_default


def test_a_muted_kind_goes_nowhere_whatever_its_channels_say(alice):
    prefs = note_preferences_set(
        user=alice, mute=["chat"], channels=[("chat", "email", True)]
    ).preferences
    assert not any(prefs.delivers("chat", c) for c in ("toast", "desktop", "email"))


@override_settings(NOTES_OPT_IN_KINDS=["digest"])
def test_an_opt_in_kind_goes_nowhere_until_turned_on(alice):
    assert not note_preferences(user=alice).delivers("digest", "toast")
    assert note_preferences_set(user=alice, unmute=["digest"]).preferences.delivers(
        "digest", "toast"
    )


def test_do_not_disturb_holds_toast_and_desktop_but_not_email(alice):
    prefs = note_preferences_set(user=alice, quiet_seconds=3600).preferences
    assert not prefs.delivers("order", "toast") and not prefs.delivers("order", "desktop")
    assert prefs.delivers("order", "email")
    after = prefs.quiet_until + 1
    assert prefs.delivers("order", "toast", now=after) and prefs.delivers("order", "desktop", after)


def test_an_unknown_channel_is_a_programming_error_that_says_so(alice):
    with pytest.raises(ValueError, match="no channel 'sms'"):
        note_preferences(user=alice).delivers("order", "sms")


def test_the_wire_shows_choices_and_site_defaults_and_survives_the_channel_layer(alice):
    from note.preferences import Preferences

    prefs = note_preferences_set(user=alice, channels=[("chat", "desktop", False)]).preferences
    wire = prefs.wire()
    assert wire["channels"] == {"chat": {"desktop": False}}
    assert wire["channel_defaults"] == {"*": ["toast", "desktop", "email"]}
    again = Preferences.from_event(json.loads(json.dumps(prefs.to_event())))
    assert not again.delivers("chat", "desktop") and again.delivers("chat", "toast")
    assert again.channels_off("chat") == ["desktop"]


@pytest.mark.parametrize(
    ("channels", "says"),
    [
        ([("chat", "sms", True)], "a channel is one of toast, desktop, email"),
        ([("chat", "email", "yes")], "on \\(true\\), off \\(false\\) or null"),
        ([("", "email", True)], "a kind is a text of 1 to 64"),
    ],
)
def test_bad_channel_choices_are_clear_errors(alice, channels, says):
    with pytest.raises(PreferenceError, match=says):
        note_preferences_set(user=alice, channels=channels)


def test_channel_choices_are_bounded(alice):
    many = [(f"k{i}", c, False) for i in range(200) for c in ("toast", "desktop", "email")]
    note_preferences_set(user=alice, channels=many)
    with pytest.raises(PreferenceError, match="at most 600 channel choices"):
        note_preferences_set(user=alice, channels=[("one-more", "email", False)])


def test_manage_py_note_preferences_sets_channels(alice, capsys):
    call_command("note_preferences", "alice", "--channel", "chat:desktop=off")
    shown = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert shown["channels"] == {"chat": {"desktop": False}}
    call_command("note_preferences", "alice", "--channel", "chat:desktop=default")
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["channels"] == {}
    with pytest.raises(
        CommandError, match=re.escape("--channel takes KIND:CHANNEL=on|off|default")
    ):
        call_command("note_preferences", "alice", "--channel", "chat:sms=off")


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        (["toast"], "note.E015"),
        ({"*": "toast"}, "note.E015"),
        ({"": ["toast"]}, "note.E015"),
        ({"*": ["toast", "mail"]}, "note.E016"),
    ],
)
def test_unusable_channel_defaults_fail_the_system_check(value, check_id):
    with override_settings(NOTES_CHANNEL_DEFAULTS=value):
        ids = [m.id for m in checks.run_checks() if m.id.startswith("note.E01")]
    assert check_id in ids


@override_settings(NOTES_CHANNEL_DEFAULTS={"*": ["toast", "desktop"]})
def test_preferences_from_a_server_without_channels_follow_the_site_setting():
    # A rolling deploy: a process that predates channels sends this on the layer.
    from note.preferences import Preferences

    old = Preferences.from_event({"kinds": {"chat": True}, "quiet_until": None, "opt_in": []})
    assert old.delivers("order", "desktop") and not old.delivers("order", "email")
    assert not old.delivers("chat", "toast") and old.channels_off("order") == []
