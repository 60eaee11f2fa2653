"""The digest's settings: an unusable value is a system check error (note.E020-E029)."""

import pytest
from django.test import override_settings

from note.checks import check_digest_settings


def ids(**settings) -> set[str]:
    with override_settings(**settings):
        return {error.id for error in check_digest_settings()}


def test_the_defaults_pass():
    assert ids() == set()


@pytest.mark.parametrize(
    ("settings", "check_id"),
    [
        ({"NOTES_PRESENCE_SECONDS": 0}, "note.E020"),
        ({"NOTES_PRESENCE_SECONDS": 1.5}, "note.E020"),
        ({"NOTES_DIGEST_AWAY_SECONDS": "3600"}, "note.E021"),
        ({"NOTES_DIGEST_AWAY_SECONDS": 100, "NOTES_PRESENCE_SECONDS": 60}, "note.E021"),
        ({"NOTES_DIGEST_PERIOD_SECONDS": 0}, "note.E022"),
        ({"NOTES_DIGEST_BASE_URL": "notes.example.com"}, "note.E023"),
        ({"NOTES_DIGEST_BASE_URL": "ftp://notes.example.com"}, "note.E023"),
        ({"NOTES_DIGEST_FROM_EMAIL": ""}, "note.E023"),
        ({"NOTES_DIGEST_MAX_NOTES": 500}, "note.E024"),
        ({"NOTES_DIGEST_BATCH": 0}, "note.E025"),
        ({"NOTES_DIGEST_LEASE_SECONDS": 1}, "note.E026"),
        ({"NOTES_DIGEST_RETRY_SECONDS": None}, "note.E027"),
        ({"NOTES_DIGEST_UNSUBSCRIBE_SECONDS": 60}, "note.E028"),
        ({"NOTES_DIGEST_INTERVAL_SECONDS": -1}, "note.E029"),
    ],
)
def test_an_unusable_value_is_named(settings, check_id):
    assert check_id in ids(**settings)


def test_a_site_address_with_a_path_prefix_is_fine():
    assert ids(NOTES_DIGEST_BASE_URL="https://example.com/notes") == set()


def test_send_digests_refuses_to_run_without_the_site_address(db):
    from django.core.management import CommandError, call_command

    with override_settings(NOTES_DIGEST_BASE_URL=""), pytest.raises(CommandError) as error:
        call_command("send_digests")
    assert "NOTES_DIGEST_BASE_URL" in str(error.value)
