"""Outbound webhooks in one process: a real receiver on a port, the worker's rounds run here.

Killing and running several workers is in ``tests/e2e/test_webhooks.py``.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from note import checks
from note.models import Note
from note.services import note_create
from note.webhooks import signing
from note.webhooks.endpoints import endpoint_create
from note.webhooks.models import WebhookDelivery, WebhookEndpoint
from note.webhooks.worker import WebhookWorker
from tests.support.receiver import Receiver

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
FAST = {"NOTES_WEBHOOK_RETRY_BASE_SECONDS": 0.01, "NOTES_WEBHOOK_RETRY_MAX_SECONDS": 0.02}


def documented_verify():
    """The ``verify`` function of docs/webhooks.md, as a receiver would copy it."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(block, namespace)
    return namespace["verify"]


def run_until(predicate, *, rounds: int = 200):
    """Worker rounds until ``predicate()`` holds (the back-off in these tests is ~10 ms)."""
    import time

    with WebhookWorker() as worker:
        for _ in range(rounds):
            worker.run_once()
            if predicate():
                return
            time.sleep(0.02)
    raise AssertionError("the worker never got there")


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def public(kind="site.news", title="hello", **kwargs) -> Note:
    return note_create(kind=kind, title=title, **kwargs)[0]


def test_each_matching_note_is_posted_once_signed_with_its_id_as_idempotency_key(receiver, alice):
    endpoint = endpoint_create(name="site", url=receiver.url)
    notes = [public(title=f"n{i}", actor=alice, content="<b>x</b>") for i in range(3)]

    with WebhookWorker() as worker:
        tally = worker.run_once()

    assert tally.delivered == 3
    assert sorted(receiver.note_ids()) == [n.id for n in notes]
    verify = documented_verify()
    for got in receiver.received:
        headers, note = got.headers, got.json["note"]
        assert headers["Idempotency-Key"] == str(note["id"])
        assert headers["X-Notes-Event"] == "note" and headers["X-Notes-Attempt"] == "1"
        assert verify(
            endpoint.secret, got.body, headers["X-Notes-Timestamp"], headers["X-Notes-Signature"]
        )
        signing.webhook_verify(
            secret=endpoint.secret,
            body=got.body,
            timestamp=headers["X-Notes-Timestamp"],
            signature=headers["X-Notes-Signature"],
        )
        assert note["actor"] == "alice" and note["public"] is True and note["recipient"] is None
        assert note["content"] == "<b>x</b>" and "read" not in note
    assert WebhookDelivery.objects.count() == 0
    assert WebhookEndpoint.objects.get().delivered_total == 3


def test_a_tampered_body_or_another_secret_or_an_old_timestamp_does_not_verify(receiver):
    endpoint = endpoint_create(name="site", url=receiver.url)
    public()
    run_until(lambda: len(receiver.received) == 1)
    got = receiver.received[0]
    stamp, sig = got.headers["X-Notes-Timestamp"], got.headers["X-Notes-Signature"]
    verify = documented_verify()
    assert not verify(endpoint.secret, got.body + b" ", stamp, sig)
    assert not verify("whsec_other", got.body, stamp, sig)
    assert not verify(endpoint.secret, got.body, str(int(stamp) - 3600), sig)
    for wrong in [
        {"body": got.body.replace(b"hello", b"HELLO")},
        {"secret": "whsec_other"},
        {"signature": None},
    ]:
        arguments = {"secret": endpoint.secret, "body": got.body, "timestamp": stamp}
        arguments["signature"] = sig
        arguments.update(wrong)
        with pytest.raises(signing.SignatureError):
            signing.webhook_verify(**arguments)


def test_an_endpoint_gets_only_its_kinds_and_visibility(receiver, alice):
    everything = endpoint_create(name="all", url=receiver.url, visibility="all")
    with Receiver() as narrow:
        endpoint_create(name="narrow", url=narrow.url, kinds=["order.paid"])
        with Receiver() as private_only:
            endpoint_create(name="private", url=private_only.url, visibility="private")
            paid = public(kind="order.paid")
            other = public(kind="site.news")
            secret_paid = note_create(kind="order.paid", title="yours", recipients=alice)[0]

            run_until(lambda: len(receiver.received) == 3 and private_only.received)

            assert sorted(receiver.note_ids()) == [paid.id, other.id, secret_paid.id]
            assert narrow.note_ids() == [paid.id]  # public is the default: no private note
            assert private_only.note_ids() == [secret_paid.id]
            assert private_only.received[0].json["note"]["recipient"] == "alice"
    assert everything.deliveries.count() == 0


def test_a_new_endpoint_starts_with_the_notes_committed_after_it(receiver):
    public(title="before")
    endpoint_create(name="site", url=receiver.url)
    after = public(title="after")
    run_until(lambda: receiver.received)
    assert receiver.note_ids() == [after.id]


@override_settings(**FAST)
def test_a_receiver_that_is_down_gets_everything_when_it_returns(receiver):
    endpoint_create(name="site", url=receiver.url)
    receiver.down()
    notes = [public(title=f"n{i}") for i in range(5)]

    with WebhookWorker() as worker:
        first = worker.run_once()
        WebhookEndpoint.objects.update(retry_at=timezone.now())  # its back-off is over
        second = worker.run_once()
    assert first.delivered == 0 and first.failed == 5  # it looked healthy: one batch
    assert second.failed == 1  # then one probe per back-off step, not one try per note
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.consecutive_failures == 6 and endpoint.enabled
    assert "ConnectError" in endpoint.last_error
    assert WebhookDelivery.objects.count() == 5
    more = [public(title="while down")]

    receiver.up()
    run_until(lambda: len(receiver.received) == 6)

    assert sorted(receiver.note_ids()) == [n.id for n in notes + more]  # each once
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failed_total >= 1
    assert WebhookDelivery.objects.count() == 0


def test_an_hour_of_failures_does_not_disable_an_endpoint_by_default(receiver):
    endpoint_create(name="site", url=receiver.url)
    receiver.status = 503
    public()
    WebhookEndpoint.objects.update(
        consecutive_failures=30, failing_since=timezone.now() - timedelta(hours=1)
    )
    with WebhookWorker() as worker:
        worker.run_once()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.enabled and endpoint.consecutive_failures == 31
    assert WebhookDelivery.objects.count() == 1


@override_settings(
    NOTES_WEBHOOK_DISABLE_AFTER_FAILURES=3, NOTES_WEBHOOK_DISABLE_AFTER_SECONDS=0, **FAST
)
def test_an_endpoint_that_keeps_failing_is_disabled_with_its_reason_in_the_admin(
    receiver, admin_client
):
    endpoint_create(name="flaky", url=receiver.url)
    receiver.status = 500
    note = public()

    run_until(lambda: not WebhookEndpoint.objects.get().enabled)

    endpoint = WebhookEndpoint.objects.get()
    assert "3 failures in a row" in endpoint.disabled_reason
    assert "HTTP 500: receiver says no" in endpoint.disabled_reason
    delivery = WebhookDelivery.objects.get()  # kept for when it is enabled again
    assert (delivery.note_id, delivery.attempts, delivery.last_status) == (note.id, 3, 500)
    page = admin_client.get("/admin/note/webhookendpoint/").content.decode()
    assert "3 failures in a row" in page and "HTTP 500: receiver says no" in page
    queue_page = admin_client.get("/admin/note/webhookdelivery/").content.decode()
    assert "receiver says no" in queue_page

    receiver.status = 200
    call_command("webhooks", "enable", "flaky", stdout=open("/dev/null", "w"))
    run_until(lambda: receiver.received)
    assert receiver.note_ids() == [note.id]


@override_settings(NOTES_WEBHOOK_QUEUE_PER_ENDPOINT=2, **FAST)
def test_a_full_queue_holds_the_cursor_and_loses_nothing(receiver):
    endpoint_create(name="site", url=receiver.url)
    receiver.down()
    notes = [public(title=f"n{i}") for i in range(5)]
    with WebhookWorker() as worker:
        worker.run_once()
    assert WebhookDelivery.objects.count() == 2
    assert WebhookEndpoint.objects.get().cursor == notes[1].id

    receiver.up()
    WebhookEndpoint.objects.update(retry_at=None)
    run_until(lambda: len(receiver.received) == 5)
    assert sorted(receiver.note_ids()) == [n.id for n in notes]


@override_settings(NOTES_WEBHOOK_MAX_PAYLOAD_BYTES=2048)
def test_a_note_too_big_for_the_payload_limit_is_sent_truncated(receiver):
    endpoint_create(name="site", url=receiver.url)
    note = public(content="x" * 4000, data={"order": 7})
    run_until(lambda: receiver.received)
    body = receiver.received[0].json
    assert body["truncated"] is True and body["note"]["id"] == note.id
    assert body["note"]["content"] == "" and "data" not in body["note"]


def test_manage_py_registers_lists_disables_enables_and_removes(receiver, capsys):
    call_command("webhooks", "add", "site", receiver.url, "--kind", "a.b,c.d", "--kind", "e.f")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    endpoint = WebhookEndpoint.objects.get()
    assert secret == endpoint.secret and secret.startswith("whsec_")
    assert endpoint.kinds == ["a.b", "c.d", "e.f"] and endpoint.visibility == "public"

    call_command("webhooks", "disable", "site", "--reason", "moving house")
    call_command("webhooks", "list")
    out = capsys.readouterr().out
    assert "DISABLED (moving house)" in out and "a.b,c.d,e.f" in out
    public(kind="a.b")
    with WebhookWorker() as worker:
        assert worker.run_once().delivered == 0

    call_command("webhooks", "enable", "site")
    run_until(lambda: receiver.received)  # what was missed while off is sent
    call_command("webhooks", "rotate-secret", "site")
    assert capsys.readouterr().out.strip().splitlines()[-1] == WebhookEndpoint.objects.get().secret
    call_command("webhooks", "remove", "site")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["add", "x", "ftp://example.com/"], "is not an http:// or https:// URL"),
        (["add", "x", "not a url"], "is not an http:// or https:// URL"),
        (["add", "x", "http://example.com/", "--visibility", "secret"], "visibility must be"),
        (["add", "x", "http://example.com/", "--kind", "k" * 65], "longer than 64"),
        (["add", "bad name!", "http://example.com/"], "is not a usable name"),
        (["add", "dup", "http://example.com/"], "exists already"),
        (["enable", "nobody"], "no endpoint named 'nobody'"),
        (["disable", "nobody"], "no endpoint named 'nobody'"),
        (["remove", "nobody"], "no endpoint named 'nobody'"),
    ],
)
def test_manage_py_answers_bad_input_with_a_clear_error(arguments, message):
    endpoint_create(name="dup", url="http://example.com/")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("webhooks", *arguments)
    assert WebhookEndpoint.objects.count() == 1


def test_the_admin_makes_an_endpoint_shows_its_secret_once_and_refuses_bad_input(admin_client):
    bad = admin_client.post(
        "/admin/note/webhookendpoint/add/",
        {"name": "site", "url": "javascript:alert(1)", "kinds": "", "visibility": "nope"},
    )
    assert bad.status_code == 200
    page = bad.content.decode()
    assert "Enter a valid URL." in page
    assert "Select a valid choice" in page
    ftp = admin_client.post(
        "/admin/note/webhookendpoint/add/",
        {"name": "site", "url": "ftp://example.com/", "kinds": "x" * 65, "visibility": "all"},
    ).content.decode()
    assert "is not an http:// or https:// URL" in ftp
    assert "is longer than 64 characters" in ftp
    assert not WebhookEndpoint.objects.exists()

    good = admin_client.post(
        "/admin/note/webhookendpoint/add/",
        {"name": "site", "url": "https://example.com/h", "kinds": "a.b, c.d", "visibility": "all"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.kinds == ["a.b", "c.d"] and endpoint.secret.startswith("whsec_")
    assert endpoint.secret in good.content.decode()
    change = admin_client.get(f"/admin/note/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret not in change.content.decode()


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("NOTES_WEBHOOK_TIMEOUT_SECONDS", 0, "note.E030"),
        ("NOTES_WEBHOOK_MAX_RESPONSE_BYTES", "64k", "note.E031"),
        ("NOTES_WEBHOOK_CONCURRENCY", 0, "note.E032"),
        ("NOTES_WEBHOOK_QUEUE_PER_ENDPOINT", -1, "note.E033"),
        ("NOTES_WEBHOOK_MAX_PAYLOAD_BYTES", 10, "note.E034"),
        ("NOTES_WEBHOOK_RETRY_BASE_SECONDS", None, "note.E035"),
        ("NOTES_WEBHOOK_RETRY_MAX_SECONDS", 1.0, "note.E036"),  # below the base, 5.0
        ("NOTES_WEBHOOK_DISABLE_AFTER_FAILURES", True, "note.E037"),
        ("NOTES_WEBHOOK_DISABLE_AFTER_SECONDS", -5, "note.E038"),
        ("NOTES_WEBHOOK_POLL_SECONDS", 0, "note.E039"),
    ],
)
def test_an_unusable_webhook_setting_is_a_system_check_error(setting, value, check_id):
    with override_settings(**{setting: value}):
        errors = checks.check_webhook_settings()
    assert [e.id for e in errors] == [check_id]
    assert setting in errors[0].msg
    assert checks.check_webhook_settings() == []


def test_the_payload_is_json_with_the_protocols_note_shape(receiver, alice):
    endpoint_create(name="site", url=receiver.url)
    note = public(kind="k", title="t", url="/x/", actor=alice, data={"n": 1})
    run_until(lambda: receiver.received)
    got = receiver.received[0]
    assert got.headers["Content-Type"] == "application/json"
    assert json.loads(got.body) == {
        "type": "note",
        "note": {
            "id": note.id,
            "kind": "k",
            "title": "t",
            "content": "",
            "url": "/x/",
            "actor": "alice",
            "public": True,
            "created": got.json["note"]["created"],
            "data": {"n": 1},
            "recipient": None,
        },
    }


def test_an_endless_answer_is_read_only_up_to_the_cap(receiver):
    endpoint_create(name="site", url=receiver.url)
    receiver.endless = True
    note = public()
    with WebhookWorker() as worker:
        tally = worker.run_once()
    assert (tally.delivered, tally.failed) == (1, 0)  # 200, its body left unread past the cap
    assert receiver.note_ids() == [note.id]


@override_settings(NOTES_WEBHOOK_TIMEOUT_SECONDS=0.5)
def test_a_receiver_slower_than_the_timeout_is_a_failure_and_the_note_stays_queued(receiver):
    endpoint_create(name="site", url=receiver.url)
    receiver.delay = 3
    note = public()
    with WebhookWorker() as worker:
        tally = worker.run_once()
    assert (tally.delivered, tally.failed) == (0, 1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.note_id == note.id and delivery.last_error == "timed out"
