"""Email digests end to end: presence written by a real daphne, ``send_digests``
processes against a real SMTP server (aiosmtpd), the unsubscribe page over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils import timezone

from note.models import NotePresence
from note.preferences import note_preferences
from note.services import note_create
from note.unsubscribe import SALT, unsubscribe_token
from tests.support.data import adb, make_user, make_user_with_token
from tests.support.services import database_url_for_subprocess
from tests.support.smtp import SmtpServer, text_part
from tests.support.ws import connect, handshake

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://notes.example.com"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def send_digests(smtp: SmtpServer, *extra: str) -> subprocess.Popen:
    """``manage.py send_digests`` in a process of its own, as cron would run it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_DEBUG": "1",
        "DIGEST_BASE_URL": BASE,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "send_digests", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def with_email(user, address: str | None = None):
    user.email = address or f"{user.username}@example.com"
    user.save(update_fields=["email"])
    return user


async def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (result := await adb(predicate)):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)
    return result


async def test_a_connected_user_gets_no_digest_and_an_away_one_does(e2e_db, start_server, smtp):
    server = start_server(PRESENCE_SECONDS="1")
    here, token = await adb(make_user_with_token, "here")
    await adb(with_email, here)
    away = await adb(with_email, await adb(make_user, "away"))
    ws = await connect(server.ws_url, token=token)
    try:
        await handshake(ws)
        first = await wait_for(
            lambda: (
                NotePresence.objects.filter(user=here).values_list("last_seen", flat=True).first()
            )
        )
        # Still connected: the periodic batched write moves last_seen on.
        await wait_for(lambda: NotePresence.objects.get(user=here).last_seen > first)
        await adb(note_create, kind="t", title="For you both", recipients=[here, away])
        out = await asyncio.to_thread(finished, send_digests(smtp))
    finally:
        closed_at = timezone.now()
        await ws.close()

    # Its last socket closed: the process writes that, then stops writing the user
    # (the periodic write is of connected users only), so "away" starts then.
    def last_seen():
        return NotePresence.objects.get(user=here).last_seen

    await wait_for(lambda: last_seen() >= closed_at)
    await asyncio.sleep(3)  # the disconnect's write has landed
    settled = await adb(last_seen)
    await asyncio.sleep(3)  # three periodic writes' time
    assert await adb(last_seen) == settled
    assert "digests sent 1," in out
    assert smtp.to(here.email) == []
    [message] = smtp.to(away.email)
    assert "For you both" in text_part(message)


def test_two_workers_at_once_send_each_user_one_digest(e2e_db, smtp):
    User = get_user_model()
    run = uuid.uuid4().hex[:6]
    users = User.objects.bulk_create(
        [User(username=f"w{run}-{i}", email=f"w{run}-{i}@example.com") for i in range(250)]
    )
    users = list(User.objects.filter(username__startswith=f"w{run}-"))
    note_create(kind="t", title="Everyone's", recipients=users)

    workers = [send_digests(smtp) for _ in range(2)]
    outputs = [finished(w) for w in workers]

    counts = [int(o.split("digests sent ")[1].split(",")[0]) for o in outputs]
    assert sum(counts) == 250, outputs
    for user in users:
        assert len(smtp.to(user.email)) == 1, user.email


def test_smtp_down_then_up_the_worker_sends_later(e2e_db, smtp):
    user = with_email(make_user("later"))
    note_create(kind="t", title="Not lost", recipients=[user])
    smtp.stop()
    down = send_digests(smtp)
    _, err = down.communicate(timeout=120)
    assert down.returncode == 1 and "digests failed" in err
    smtp.start()
    from note.models import NoteDigest

    NoteDigest.objects.filter(user=user).update(retry_at=None)  # its retry time has come
    finished(send_digests(smtp))
    finished(send_digests(smtp))
    [message] = smtp.to(user.email)
    assert "Not lost" in text_part(message)


def http(method: str, url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_unsubscribe_link_works_logged_out_and_only_on_post(e2e_db, server):
    user = with_email(make_user("unsub"))
    link = f"{server.http_url}/api/notes/email/unsubscribe/{unsubscribe_token(user=user)}/"

    status, page = http("GET", link)
    assert status == 200 and '<form method="post">' in page
    assert note_preferences(user=user).delivers("t", "email")  # a link scanner changes nothing

    # A mail client's RFC 8058 one-click POST: no cookie, no CSRF token.
    status, page = http("POST", link, b"List-Unsubscribe=One-Click")
    assert status == 200 and 'id="unsubscribed"' in page
    assert not note_preferences(user=user).delivers("t", "email")


class _LongAgo(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 31 * 24 * 3600)


def test_an_expired_link_shows_a_clear_page(e2e_db, server):
    user = with_email(make_user("old"))
    token = _LongAgo(salt=SALT).sign_object({"u": str(user.pk)})
    link = f"{server.http_url}/api/notes/email/unsubscribe/{token}/"
    for method in ("GET", "POST"):
        status, page = http(method, link, b"" if method == "POST" else None)
        assert status == 400 and "expired" in page and "Traceback" not in page
    assert note_preferences(user=user).delivers("t", "email")


@pytest.mark.parametrize(
    "token",
    [
        "forged",
        "eyJ1IjoiMSJ9:1xZ8ix:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        signing.dumps({"u": "1"}, salt="some.other.salt"),
    ],
)
def test_a_forged_or_damaged_link_shows_a_clear_page(e2e_db, server, token):
    user = with_email(make_user("forged"))
    for method in ("GET", "POST"):
        status, page = http(
            method,
            f"{server.http_url}/api/notes/email/unsubscribe/{token}/",
            b"" if method == "POST" else None,
        )
        assert status == 400 and 'id="link-error"' in page and "not valid" in page
    assert note_preferences(user=user).delivers("t", "email")


def test_the_loop_worker_sends_counts_in_its_metrics_and_stops_on_sigterm(e2e_db, smtp):
    import signal

    from tests.support.services import free_port

    user = with_email(make_user("looped"))
    note_create(kind="t", title="From the worker", recipients=[user])
    port = free_port()
    worker = send_digests(smtp, "--loop", "--metrics-port", str(port))
    try:
        deadline = time.monotonic() + 60
        while not smtp.to(user.email):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "no digest from the worker"
            time.sleep(0.2)
        _, metrics = http("GET", f"http://127.0.0.1:{port}/metrics")
        assert "notes_digests_sent_total 1.0" in metrics
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert len(smtp.to(user.email)) == 1
