"""Webhook workers as real processes: several at once, killed mid-run, and /metrics.

The notes are committed by this test process; ``manage.py run_webhooks``
runs as its own process on the same database and POSTs to a real receiver.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from note.models import Note
from note.services import note_create
from note.webhooks.endpoints import endpoint_create
from note.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.support.metrics import scrape, value
from tests.support.receiver import Receiver
from tests.support.services import database_url_for_subprocess

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One ``manage.py run_webhooks`` process, its output in a file."""

    def __init__(self, *args: str, **env: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix="rt-webhooks-", suffix=".log")[1])
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_webhooks", *args],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url_for_subprocess(),
                "DJANGO_DEBUG": "1",
                "PYTHONUNBUFFERED": "1",
                "WEBHOOK_POLL_SECONDS": "0.05",
                "WEBHOOK_TIMEOUT_SECONDS": "2",
                "WEBHOOK_RETRY_BASE_SECONDS": "0.05",
                "WEBHOOK_RETRY_MAX_SECONDS": "0.2",
                **env,
            },
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                # A stop finishes the statement and the POSTs in flight: on SQLite a
                # statement may wait out the 20 s busy timeout, a POST its 10 s.
                return self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(5)


@pytest.fixture
def workers(e2e_db):
    started: list[Worker] = []

    def start(*args: str, **env: str) -> Worker:
        worker = Worker(*args, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL)
    WebhookEndpoint.objects.all().delete()


def wait_for(predicate, *, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def notes(count: int, title: str) -> list[int]:
    made = [note_create(kind="site.news", title=f"{title} {i}")[0] for i in range(count)]
    ids = [n.id for n in made]
    assert all(i > 0 for i in ids)  # stamped: this process is outside any transaction
    return ids


def test_several_workers_at_once_deliver_each_note_once(workers):
    with Receiver() as receiver:
        endpoint_create(name="several", url=receiver.url)
        running = [workers() for _ in range(3)]
        ids = notes(60, "several")

        wait_for(lambda: len(set(receiver.note_ids())) == 60, what="60 notes delivered")
        time.sleep(0.5)  # any duplicate would have arrived by now: the workers are idle

        counts = collections.Counter(receiver.note_ids())
        assert sorted(counts) == ids
        assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1]
        for worker in running:
            assert worker.stop() == 0, worker.output()
        assert not WebhookDelivery.objects.exists()


def test_a_worker_killed_mid_run_and_restarted_delivers_the_rest(workers):
    with Receiver(delay=0.1) as receiver:
        endpoint = endpoint_create(name="killed", url=receiver.url)
        ids = notes(40, "killed")
        first = workers(WEBHOOK_CONCURRENCY="2")
        wait_for(lambda: len(receiver.received) >= 5, what="the first deliveries")
        first.stop(signal.SIGKILL)
        before = set(receiver.note_ids())
        assert len(before) < 40, "the worker finished before it was killed: slow the receiver"
        assert WebhookDelivery.objects.filter(endpoint=endpoint).exists()

        workers(WEBHOOK_CONCURRENCY="2")
        wait_for(lambda: set(receiver.note_ids()) == set(ids), what="every note after restart")

        received = receiver.note_ids()
        # At least once: only what the killed worker had in flight may come twice,
        # and a repeat carries the same Idempotency-Key.
        assert len(received) - len(ids) <= 4
        for got in receiver.received:
            assert got.headers["Idempotency-Key"] == str(got.note_id)
        wait_for(lambda: not WebhookDelivery.objects.exists(), what="an empty queue")


def test_metrics_show_the_failures_and_the_queue_of_a_receiver_that_is_down(workers, start_server):
    server = start_server()
    receiver = Receiver()  # never up: every POST is refused
    endpoint_create(name="down", url=receiver.url)
    notes(3, "down")
    once = workers("--once")
    assert once.wait() == 0, once.output()
    assert "failed 3" in once.output()

    samples = scrape(server)
    assert value(samples, "notes_webhook_deliveries_total", outcome="failed") == 3
    assert value(samples, "notes_webhook_deliveries_total", outcome="delivered") == 0
    assert value(samples, "notes_webhook_queued") == 3
    assert value(samples, "notes_webhook_retrying") == 3
    assert value(samples, "notes_webhook_endpoints_failing") == 1
    assert value(samples, "notes_webhook_oldest_seconds") > 0

    with receiver:
        again = workers()
        wait_for(lambda: len(receiver.received) == 3, what="the queue delivered")
        assert again.stop() == 0
    samples = scrape(server)
    assert value(samples, "notes_webhook_deliveries_total", outcome="delivered") == 3
    assert value(samples, "notes_webhook_queued") == 0
    assert value(samples, "notes_webhook_endpoints_failing") == 0


def test_a_stopped_worker_exits_cleanly_and_logs_why_a_post_failed(workers):
    with Receiver(status=500) as receiver:
        endpoint_create(name="refusing", url=receiver.url)
        worker = workers()
        notes(1, "refused")
        wait_for(lambda: WebhookEndpoint.objects.get(name="refusing").failed_total >= 1)
        assert worker.stop(signal.SIGTERM) == 0
    assert "webhook_failed endpoint=refusing" in worker.output()
    assert "HTTP 500: receiver says no" in worker.output()
    assert Note.objects.exists()
