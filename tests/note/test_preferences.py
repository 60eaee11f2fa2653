"""Preferences: mute a kind, opt-in kinds, do not disturb, and what counts as unread."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from note.preferences import PreferenceError, note_preferences, note_preferences_set
from note.selectors import note_unread_and_last_id, note_unread_count
from note.services import note_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def test_a_muted_kind_is_stored_but_not_counted_unless_the_user_chooses(alice):
    note_create(kind="comment", title="c", recipients=[alice])
    note_create(kind="order", title="o", recipients=[alice])
    result = note_preferences_set(user=alice, mute=["comment"])
    assert (result.unread, result.changed) == (1, True)
    assert note_unread_and_last_id(user=alice)[0] == 1
    prefs = note_preferences(user=alice)
    assert prefs.muted("comment") and not prefs.muted("order")
    assert note_preferences_set(user=alice, count_muted=True).unread == 2
    assert note_preferences_set(user=alice, count_muted=False, unmute=["comment"]).unread == 2


@override_settings(NOTES_OPT_IN_KINDS=["digest"])
def test_an_opt_in_kind_is_muted_until_the_user_turns_it_on(alice):
    note_create(kind="digest", title="d", recipients=[alice])
    assert note_unread_count(user=alice) == 0
    assert note_preferences(user=alice).wire()["muted"] == ["digest"]
    note_preferences_set(user=alice, unmute=["digest"])
    assert note_unread_count(user=alice) == 1
    note_preferences_set(user=alice, reset=["digest"])
    assert note_unread_count(user=alice) == 0


def test_do_not_disturb_mutes_every_kind_for_a_while_without_changing_counts(alice):
    note_create(kind="order", title="o", recipients=[alice])
    prefs = note_preferences_set(user=alice, quiet_seconds=3600).preferences
    assert prefs.muted("order") and prefs.wire()["quiet_until"] is not None
    assert not prefs.muted("order", now=prefs.quiet_until + 1)  # over after the hour
    assert note_unread_count(user=alice) == 1
    assert not note_preferences_set(user=alice, quiet_seconds=0).preferences.muted("order")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"mute": [""]}, "a kind is a text of 1 to 64"),
        ({"mute": ["k" * 65]}, "a kind is a text of 1 to 64"),
        ({"quiet_seconds": -5}, "do not disturb lasts"),
        ({"count_muted": "yes"}, "count_muted is true or false"),
    ],
)
def test_bad_preferences_are_clear_errors(alice, change, says):
    with pytest.raises(PreferenceError, match=says):
        note_preferences_set(user=alice, **change)


def test_manage_py_note_preferences(alice, capsys):
    call_command("note_preferences", "alice", "--mute", "comment", "--quiet-minutes", "60")
    shown = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert shown["muted"] == ["comment"] and shown["quiet_until"] is not None
    call_command("note_preferences", "alice")
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["muted"] == ["comment"]
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("note_preferences", "nobody")
    with pytest.raises(CommandError, match="a kind is a text"):
        call_command("note_preferences", "alice", "--mute", "k" * 65)
