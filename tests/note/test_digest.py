"""Email digests against a real SMTP server (aiosmtpd on a socket, tests/support/smtp.py).

The worker's steps run in this process here (``digest_send_due``, with ``now``
moved forward instead of waiting); ``tests/e2e/test_digest.py`` runs two
``send_digests`` processes at once and the presence of a real socket.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from note.digest import digest_send_due
from note.models import NoteDigest, NotePresence
from note.preferences import note_preferences, note_preferences_set
from note.presence import note_presence_record
from note.services import note_create, note_mark_read
from tests.support.smtp import SmtpServer, html_part, text_part

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "https://notes.example.com"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    with override_settings(**server.settings, NOTES_DIGEST_BASE_URL=BASE):
        yield server
    server.stop()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", email="alice@example.com")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", email="bob@example.com")


def later(**delta):
    return timezone.now() + timedelta(**delta)


def test_an_away_user_gets_one_email_listing_every_unread_note(smtp, alice):
    for i in range(3):
        note_create(kind="t", title=f"Invoice {i} paid", url=f"/invoices/{i}/", recipients=[alice])
    [read] = note_create(kind="t", title="Already read", recipients=[alice])
    note_mark_read(user=alice, ids=[read.id])

    run = digest_send_due()

    assert (run.sent, run.failed) == (1, 0)
    [message] = smtp.to("alice@example.com")
    text = text_part(message)
    for i in range(3):
        assert f"Invoice {i} paid" in text
        assert f"{BASE}/invoices/{i}/" in text
    assert "Already read" not in text
    assert message["Subject"] == "You have 3 unread notes"
    assert "Invoice 2 paid" in html_part(message)


def test_a_user_seen_recently_gets_nothing_and_one_away_long_enough_does(smtp, alice, bob):
    note_create(kind="t", title="For both", recipients=[alice, bob])
    note_presence_record(seen={alice.pk: "en"})

    assert digest_send_due().sent == 1
    assert smtp.to("alice@example.com") == []
    assert len(smtp.to("bob@example.com")) == 1

    assert digest_send_due(now=later(minutes=61)).sent == 1
    assert len(smtp.to("alice@example.com")) == 1


def test_at_most_one_digest_per_period_and_never_a_note_twice(smtp, alice):
    note_create(kind="t", title="First", recipients=[alice])
    assert digest_send_due().sent == 1
    note_create(kind="t", title="Second", recipients=[alice])

    assert digest_send_due(now=later(hours=23)).sent == 0
    assert digest_send_due(now=later(hours=25)).sent == 1

    first, second = smtp.to("alice@example.com")
    assert "First" in text_part(first)
    assert "Second" in text_part(second) and "First" not in text_part(second)
    assert digest_send_due(now=later(days=3)).sent == 0  # nothing new since


def test_nothing_is_sent_when_nothing_is_unread(smtp, alice):
    [note] = note_create(kind="t", title="Seen", recipients=[alice])
    note_mark_read(user=alice, ids=[note.id])
    run = digest_send_due()
    assert (run.sent, run.nothing_new) == (0, 1)
    assert smtp.messages == []


def test_muted_kinds_are_not_emailed(smtp, alice):
    note_preferences_set(user=alice, mute=["chatter"])
    note_create(kind="chatter", title="Noise", recipients=[alice])
    note_create(kind="billing", title="Paid", recipients=[alice])
    digest_send_due()
    [message] = smtp.to("alice@example.com")
    assert "Paid" in text_part(message) and "Noise" not in text_part(message)


def test_users_without_an_email_address_are_skipped(smtp, django_user_model):
    carol = django_user_model.objects.create_user("carol")
    note_create(kind="t", title="Hi", recipients=[carol])
    assert digest_send_due().sent == 0
    assert smtp.messages == []


def test_note_text_is_escaped_in_the_html_part(smtp, alice):
    note_create(
        kind="t", title="<img src=x onerror=alert(1)>", content="<b>bold</b>", recipients=[alice]
    )
    digest_send_due()
    [message] = smtp.to("alice@example.com")
    html = html_part(message)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bold" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x onerror=alert(1)>" in text_part(message)  # plain text stays as written


def test_a_note_link_that_is_not_http_is_left_out(smtp, alice):
    note_create(kind="t", title="Bad link", url="javascript:alert(1)", recipients=[alice])
    digest_send_due()
    [message] = smtp.to("alice@example.com")
    assert "javascript:" not in text_part(message) + html_part(message)


def test_the_email_is_in_the_language_of_the_users_last_connection(smtp, alice, bob):
    note_create(kind="t", title="x", recipients=[alice, bob])
    note_presence_record(seen={alice.pk: "zh-hans"}, at=later(hours=-2))
    digest_send_due()
    [chinese] = smtp.to("alice@example.com")
    [english] = smtp.to("bob@example.com")
    assert chinese["Subject"] == "您有 1 条未读通知"
    assert "取消订阅" in html_part(chinese)
    assert english["Subject"] == "You have 1 unread note"


def test_the_email_carries_one_click_unsubscribe_headers(smtp, alice):
    note_create(kind="t", title="x", recipients=[alice])
    digest_send_due()
    [message] = smtp.to("alice@example.com")
    # A long header is folded onto its next line; mail clients unfold it.
    link = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"].strip()).group(1)
    assert link.startswith(f"{BASE}/api/notes/email/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text_part(message)


def test_smtp_down_then_up_sends_the_digest_once_later(alice):
    smtp = SmtpServer()  # not started: nothing listens on its port
    note_create(kind="t", title="Kept for later", recipients=[alice])
    with override_settings(**smtp.settings, NOTES_DIGEST_BASE_URL=BASE):
        run = digest_send_due()
        assert (run.sent, run.failed) == (0, 1)
        state = NoteDigest.objects.get(user=alice)
        assert state.failures == 1 and state.sent_at is None and state.retry_at is not None
        assert "Connection refused" in state.last_error or "Errno" in state.last_error

        smtp.start()
        try:
            assert digest_send_due().sent == 0  # not before its retry time
            assert digest_send_due(now=state.retry_at + timedelta(seconds=1)).sent == 1
            assert digest_send_due(now=later(days=2)).sent == 0
        finally:
            smtp.stop()
    [message] = smtp.messages
    assert "Kept for later" in text_part(message)
    assert NoteDigest.objects.get(user=alice).failures == 0


def test_a_failed_send_backs_off_doubling(alice):
    smtp = SmtpServer()
    note_create(kind="t", title="x", recipients=[alice])
    with override_settings(**smtp.settings, NOTES_DIGEST_BASE_URL=BASE):
        digest_send_due()
        first = NoteDigest.objects.get(user=alice).retry_at
        digest_send_due(now=first)
        second = NoteDigest.objects.get(user=alice).retry_at
    assert NoteDigest.objects.get(user=alice).failures == 2
    assert round((first - timezone.now()).total_seconds() / 60) == 1
    assert round((second - first).total_seconds() / 60) == 2


def test_a_claim_held_by_another_worker_is_respected_until_its_lease_ends(smtp, alice):
    note_create(kind="t", title="x", recipients=[alice])
    NoteDigest.objects.create(user=alice, claim="other", claimed_until=later(minutes=5))
    assert digest_send_due().sent == 0
    assert digest_send_due(now=later(minutes=6)).sent == 1


def test_unsubscribing_turns_the_email_channel_off(smtp, alice):
    from note.unsubscribe import digest_unsubscribe

    digest_unsubscribe(user=alice)
    assert not note_preferences(user=alice).delivers("t", "email")
    assert note_preferences(user=alice).delivers("t", "toast")
    note_create(kind="t", title="x", recipients=[alice])
    assert digest_send_due().sent == 0


@override_settings(NOTES_CHANNEL_DEFAULTS={"*": ["toast"], "billing": ["toast", "email"]})
def test_unsubscribing_beats_the_sites_email_kinds_and_the_users_own(smtp, alice):
    from note.unsubscribe import digest_unsubscribe

    note_preferences_set(user=alice, channels=[("chat", "email", True)])
    assert note_preferences(user=alice).delivers("billing", "email")
    assert note_preferences(user=alice).delivers("chat", "email")
    digest_unsubscribe(user=alice)
    after = note_preferences(user=alice)
    assert not after.delivers("billing", "email")
    assert not after.delivers("chat", "email")
    assert after.delivers("chat", "toast")
    note_create(kind="billing", title="x", recipients=[alice])
    note_create(kind="chat", title="y", recipients=[alice])
    assert digest_send_due().sent == 0


def test_presence_is_written_in_batches_with_the_language(alice, bob):
    note_presence_record(seen={alice.pk: "en", bob.pk: "zh-hans"})
    first = NotePresence.objects.get(user=alice).last_seen
    note_presence_record(seen={alice.pk: "zh-hans"}, at=later(minutes=1))
    assert NotePresence.objects.get(user=alice).last_seen > first
    assert NotePresence.objects.get(user=alice).language == "zh-hans"
    assert NotePresence.objects.get(user=bob).language == "zh-hans"


def test_a_private_note_to_someone_else_does_not_make_a_digest_due(smtp, alice, bob):
    note_create(kind="t", title="For alice", recipients=[alice])
    assert digest_send_due().sent == 1
    note_create(kind="t", title="For bob", recipients=[bob])
    run = digest_send_due(now=later(days=2))
    assert (run.sent, run.nothing_new) == (1, 0)  # bob mailed; alice not even looked at
    assert len(smtp.to("alice@example.com")) == 1


def test_a_failed_send_shows_in_the_admin(alice, admin_client):
    smtp = SmtpServer()  # nothing listens
    note_create(kind="t", title="x", recipients=[alice])
    with override_settings(**smtp.settings, NOTES_DIGEST_BASE_URL=BASE):
        digest_send_due()
    page = admin_client.get("/admin/note/notedigest/").content.decode()
    assert "alice" in page and "ConnectionRefusedError" in page
