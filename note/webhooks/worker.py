"""The loop ``manage.py run_webhooks`` runs: enqueue, claim, POST, record, repeat.

Any number of workers may run at once, on any machines sharing the
database: the enqueue moves each endpoint's cursor under a row lock (or a
conditional update) and a claim leases its rows, so each (endpoint, note)
goes to the receiver once in normal operation, and again only after a
crash (the ``Idempotency-Key`` tells the receiver). The POSTs run on
``NOTES_WEBHOOK_CONCURRENCY`` threads; every database write stays on the
loop's own thread, so a worker holds one connection.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from note import conf
from note.webhooks import queue, sender

log = logging.getLogger(__name__)


@dataclass
class Tally:
    enqueued: int = 0
    delivered: int = 0
    failed: int = 0
    disabled: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.enqueued += other.enqueued
        self.delivered += other.delivered
        self.failed += other.failed
        self.disabled += other.disabled


class WebhookWorker:
    """One worker process's state: its HTTP client and thread pool, and a stop flag.

    ``with WebhookWorker() as worker:`` opens and closes them; :meth:`run_once`
    does one round, :meth:`run` loops until :meth:`stop`.
    """

    def __init__(self) -> None:
        self.concurrency = conf.WEBHOOK_CONCURRENCY
        self.stopping = threading.Event()

    def __enter__(self) -> WebhookWorker:
        self.client = sender.webhook_client()
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook")
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def stop(self) -> None:
        """Finish the POSTs in flight and record them, then return from :meth:`run`."""
        self.stopping.set()

    def run_once(self) -> Tally:
        """Enqueue new notes, then send what was due when the round began (until a stop).

        A retry that falls due during the round waits for the next one, so a
        round ends even while a receiver fails fast and its back-off is short.
        """
        tally = Tally(enqueued=queue.webhook_enqueue_all())
        started = timezone.now()
        while not self.stopping.is_set():
            claimed = queue.webhook_claim(limit=self.concurrency * 2, due_by=started)
            if not claimed:
                break
            tally.add(self._send(claimed))
        return tally

    def run(self) -> None:
        """Loop until stopped; a database outage is logged and waited out, never fatal."""
        while not self.stopping.is_set():
            try:
                tally = self.run_once()
            except DatabaseError:
                log.exception("webhook_worker_database_error (retrying)")
                close_old_connections()
                tally = Tally()
            if tally.delivered or tally.failed:
                log.info("webhook_round delivered=%d failed=%d", tally.delivered, tally.failed)
            if not (tally.delivered or tally.failed or tally.enqueued):
                self.stopping.wait(conf.WEBHOOK_POLL_SECONDS)

    def _send(self, claimed: list[queue.Claimed]) -> Tally:
        """POST the batch on the pool, then record every outcome in one transaction."""
        delivered: list[queue.Claimed] = []
        failed: list[tuple[queue.Claimed, str, int | None]] = []
        futures = {self.pool.submit(sender.webhook_post, self.client, c): c for c in claimed}
        for future in as_completed(futures):
            delivery, outcome = futures[future], future.result()
            if outcome.ok:
                delivered.append(delivery)
                continue
            failed.append((delivery, outcome.error, outcome.status))
            log.warning(
                "webhook_failed endpoint=%s note=%d attempt=%d error=%s",
                delivery.endpoint_name,
                delivery.note_id,
                delivery.attempt,
                outcome.error,
            )
        disabled = queue.webhook_record(delivered=delivered, failed=failed)
        return Tally(delivered=len(delivered), failed=len(failed), disabled=disabled)
