"""System checks turn unusable settings into messages that say what to change."""

import pytest
from django.core import checks
from django.test import override_settings


def ids(**settings) -> list[str]:
    with override_settings(**settings):
        return [m.id for m in checks.run_checks()]


def test_the_standalone_settings_pass_every_check():
    assert ids() == []


@pytest.mark.parametrize(
    "name, value",
    [
        ("NOTES_CATCH_UP_SECONDS", 0),
        ("NOTES_DB_THREADS", "8"),
        ("NOTES_WS_MAX_BUFFER_BYTES", -1),
        ("NOTES_WS_RATE_PER_SECOND", None),
    ],
)
def test_a_bad_delivery_setting_is_an_error_naming_it(name, value):
    with override_settings(**{name: value}):
        [message] = checks.run_checks()
    assert message.id == "realtime.E001" and name in message.msg
    assert "default" in message.hint


def test_metrics_ips_given_as_one_string_is_an_error():
    assert ids(NOTES_METRICS_ALLOWED_IPS="127.0.0.1") == ["realtime.E002"]


def test_a_note_size_limit_past_the_frame_limit_is_an_error():
    assert ids(NOTES_MAX_NOTE_BYTES=64 * 1024) == ["note.E001"]


@pytest.mark.parametrize("value", [0, -1, "2", True, 7200])
def test_a_stamp_sweep_that_is_not_a_sane_number_of_seconds_is_an_error(value):
    assert ids(NOTES_STAMP_SWEEP_SECONDS=value) == ["note.E002"]


def test_a_data_limit_larger_than_a_note_is_an_error():
    assert ids(NOTES_MAX_DATA_BYTES=61441) == ["note.E009"]
    assert ids(NOTES_MAX_DATA_BYTES="8k") == ["note.E009"]


def test_retention_settings_are_none_or_positive():
    assert ids(NOTES_RETENTION_DAYS=0) == ["note.E011"]
    assert ids(NOTES_RETENTION_PER_USER="100") == ["note.E011"]
    assert ids(NOTES_RETENTION_DAYS=90, NOTES_RETENTION_PER_USER=1000) == []


def test_opt_in_kinds_must_be_a_list_of_kinds():
    assert ids(NOTES_OPT_IN_KINDS="digest") == ["note.E010"]
    assert ids(NOTES_OPT_IN_KINDS=["digest", ""]) == ["note.E010"]
    assert ids(NOTES_OPT_IN_KINDS=["digest"]) == []


def test_no_channel_layer_in_production_warns_that_notes_stay_in_one_process():
    assert ids(CHANNEL_LAYERS={}, DEBUG=False) == ["realtime.W002"]
    assert ids(CHANNEL_LAYERS={}, DEBUG=True) == []


def test_sqlite_without_immediate_transactions_warns_that_requests_may_fail_locked():
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "host.sqlite3"}
    immediate = {**sqlite, "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}}
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "host"}
    assert _database_check_ids(sqlite) == ["realtime.W003"]
    assert _database_check_ids(immediate) == []
    assert _database_check_ids(postgres) == []


def _database_check_ids(database: dict) -> list[str]:
    # Read from settings.DATABASES only; the suite's own connections are untouched.
    from realtime.checks import _sqlite_writers_wait

    with (
        pytest.warns(UserWarning, match="DATABASES"),
        override_settings(DATABASES={"default": database}),
    ):
        return [m.id for m in _sqlite_writers_wait()]
