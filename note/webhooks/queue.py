"""The durable queue: enqueue by cursor, claim with a lease, record each outcome.

Why a cursor and not the ``notes_committed`` signal: a note's id (the
idempotency key) exists only after the stamp commits (``note.stamping``),
and a signal sent after that commit is lost if the process dies in between.
The cursor is data: every note with ``id > cursor`` has yet to be
considered, and because ids are dense and committed in id order, reading
them later never skips one. :func:`webhook_enqueue` inserts an endpoint's
deliveries and moves its cursor in one transaction, so a crash either does
both or neither.

At-least-once: a worker that dies after the receiver accepted a POST but
before it deleted the row leaves the row to fall due when its lease ends,
and the note is sent again with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from note import conf
from note.models import Note
from note.serializers import note_payload, note_wire
from note.webhooks.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

# Notes one endpoint's enqueue reads per transaction.
ENQUEUE_PAGE = 500
# A claim's lease beyond the request's own timeout: a POST waits for a free
# connection of the pool (up to a timeout) and is then sent (up to another).
LEASE_MARGIN_SECONDS = 5


def webhook_body(note: Note) -> bytes:
    """The JSON body POSTed for ``note``, at most ``NOTES_WEBHOOK_MAX_PAYLOAD_BYTES``."""
    wire = note_wire(note_payload(note), read=False)
    del wire["read"]  # a reader's state; a webhook has no reader
    wire["recipient"] = note.recipient.get_username() if note.recipient_id else None
    body = {"type": "note", "note": wire}
    encoded = _dumps(body)
    if len(encoded) > conf.WEBHOOK_MAX_PAYLOAD_BYTES:
        wire["content"] = ""
        wire.pop("data", None)
        body["truncated"] = True
        encoded = _dumps(body)
    return encoded


def _dumps(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _matching(endpoint: WebhookEndpoint):
    notes = Note.objects.all()
    if endpoint.kinds:
        notes = notes.filter(kind__in=endpoint.kinds)
    if endpoint.visibility == WebhookEndpoint.PUBLIC:
        notes = notes.filter(recipient__isnull=True)
    elif endpoint.visibility == WebhookEndpoint.PRIVATE:
        notes = notes.filter(recipient__isnull=False)
    return notes


def webhook_enqueue(*, endpoint_id: int) -> int:
    """Queue the endpoint's next page of matching notes; return how many were queued.

    Reads the newest stamped id first, then the matching notes up to it: all
    of them have committed (ids are committed in order), so moving the cursor
    to that id skips nothing. A full queue leaves the cursor where it is.
    """
    with transaction.atomic():
        locking = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True)
        if connection.features.has_select_for_update_skip_locked:
            locking = locking.select_for_update(skip_locked=True)
        endpoint = locking.first()
        if endpoint is None:  # gone, disabled, or another worker is at it
            return 0
        room = conf.WEBHOOK_QUEUE_PER_ENDPOINT - endpoint.deliveries.count()
        if room <= 0:
            return 0
        newest = Note.objects.filter(id__gt=endpoint.cursor).aggregate(newest=Max("id"))["newest"]
        if newest is None:
            return 0
        page = min(room, ENQUEUE_PAGE)
        notes = list(
            _matching(endpoint)
            .filter(id__gt=endpoint.cursor, id__lte=newest)
            .select_related("actor", "recipient")
            .order_by("id")[:page]
        )
        cursor = notes[-1].id if len(notes) == page else newest
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    endpoint=endpoint,
                    note_id=note.id,
                    body=webhook_body(note).decode(),
                    next_attempt_at=now,
                )
                for note in notes
            ],
            ignore_conflicts=True,  # a row from an enqueue that raced us (SQLite has no row locks)
        )
        moved = WebhookEndpoint.objects.filter(pk=endpoint.pk, cursor=endpoint.cursor).update(
            cursor=cursor
        )
        if not moved:  # another worker moved it first: let it have this page
            transaction.set_rollback(True)
            return 0
    return len(notes)


def webhook_enqueue_all() -> int:
    """Enqueue for every enabled endpoint; the count of deliveries queued."""
    ids = WebhookEndpoint.objects.filter(enabled=True).values_list("id", flat=True)
    return sum(webhook_enqueue(endpoint_id=endpoint_id) for endpoint_id in list(ids))


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds until its lease ends: everything the POST needs."""

    id: int
    endpoint_id: int
    endpoint_name: str
    url: str
    secret: str
    note_id: int
    body: bytes
    attempt: int


def webhook_claim(*, limit: int, due_by: datetime | None = None) -> list[Claimed]:
    """Take up to ``limit`` deliveries due by ``due_by`` (default: now), leased past the
    requests' timeout.

    A healthy endpoint's due rows are taken in order; a failing endpoint whose
    back-off has ended gives one row, a probe, so a receiver that is down gets
    one request per back-off step, not one per queued note. Rows locked by
    another worker's claim are skipped where the database can (PostgreSQL,
    MariaDB); the conditional UPDATE keeps two workers from holding one row
    everywhere, SQLite included.
    """
    real_now = timezone.now()
    now = min(due_by, real_now) if due_by else real_now
    lease = real_now + timedelta(seconds=2 * conf.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    token = uuid.uuid4().hex
    enabled = WebhookEndpoint.objects.filter(enabled=True)
    healthy = list(enabled.filter(consecutive_failures=0).values_list("id", flat=True))
    probing = list(
        enabled.filter(consecutive_failures__gt=0)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .values_list("id", flat=True)
    )
    taken = 0
    if healthy:
        taken += _claim_rows(healthy, now=now, lease=lease, token=token, limit=limit)
    for endpoint_id in probing:
        if taken >= limit:
            break
        # The probe's endpoint waits out the lease too, so one worker probes at a time.
        held = WebhookEndpoint.objects.filter(
            Q(retry_at__isnull=True) | Q(retry_at__lte=now), pk=endpoint_id
        ).update(retry_at=lease)
        if held:
            got = _claim_rows([endpoint_id], now=now, lease=lease, token=token, limit=1)
            taken += got
            if not got:  # nothing due: let the next due row probe at once
                WebhookEndpoint.objects.filter(pk=endpoint_id, retry_at=lease).update(retry_at=now)
    if not taken:
        return []
    rows = WebhookDelivery.objects.filter(claim=token).select_related("endpoint")
    return [
        Claimed(
            id=row.id,
            endpoint_id=row.endpoint_id,
            endpoint_name=row.endpoint.name,
            url=row.endpoint.url,
            secret=row.endpoint.secret,
            note_id=row.note_id,
            body=row.body.encode(),
            attempt=row.attempts + 1,
        )
        for row in rows
    ]


def _claim_rows(endpoint_ids: list[int], *, now, lease, token: str, limit: int) -> int:
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            endpoint_id__in=endpoint_ids, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return 0
        return WebhookDelivery.objects.filter(id__in=ids, next_attempt_at__lte=now).update(
            next_attempt_at=lease, claim=token
        )


def webhook_backoff(failures: int) -> float:
    """Seconds before the next try after ``failures`` in a row: exponential, capped, jittered."""
    ceiling = min(
        conf.WEBHOOK_RETRY_MAX_SECONDS,
        conf.WEBHOOK_RETRY_BASE_SECONDS * 2 ** min(max(failures - 1, 0), 30),
    )
    return random.uniform(ceiling / 2, ceiling)


def webhook_record(
    *, delivered: list[Claimed], failed: list[tuple[Claimed, str, int | None]]
) -> list[str]:
    """Record one batch's outcomes in one transaction; the names of endpoints disabled.

    One commit per batch, not per POST: on SQLite a commit is a file sync
    (docs/performance.md). A crash before it commits sends the batch again,
    which at-least-once allows.
    """
    disabled: list[str] = []
    with transaction.atomic():
        if delivered:
            _delivered(delivered)
        for claimed, error, status in failed:
            if webhook_failed(claimed, error=error, status=status):
                disabled.append(claimed.endpoint_name)
    return disabled


def _delivered(delivered: list[Claimed]) -> None:
    """The receiver accepted them: the rows go, each endpoint is healthy again."""
    now = timezone.now()
    WebhookDelivery.objects.filter(id__in=[c.id for c in delivered]).delete()
    per_endpoint: dict[int, int] = {}
    for claimed in delivered:
        per_endpoint[claimed.endpoint_id] = per_endpoint.get(claimed.endpoint_id, 0) + 1
    for endpoint_id, count in per_endpoint.items():
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(
            delivered_total=F("delivered_total") + count,
            consecutive_failures=0,
            failing_since=None,
            retry_at=None,
            last_success_at=now,
        )


def webhook_failed(claimed: Claimed, *, error: str, status: int | None) -> bool:
    """The POST failed: back the endpoint off, keep the row; True if the endpoint was disabled.

    Disabled once it has failed ``NOTES_WEBHOOK_DISABLE_AFTER_FAILURES`` times in
    a row over at least ``NOTES_WEBHOOK_DISABLE_AFTER_SECONDS``; its queue stays.
    """
    now = timezone.now()
    error = error[:500]
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=claimed.endpoint_id).update(
            failed_total=F("failed_total") + 1,
            consecutive_failures=F("consecutive_failures") + 1,
            failing_since=Coalesce(F("failing_since"), now),
            last_error=error,
        )
        endpoint = WebhookEndpoint.objects.filter(pk=claimed.endpoint_id).first()
        if endpoint is None:
            return False
        retry_at = now + timedelta(seconds=webhook_backoff(endpoint.consecutive_failures))
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(retry_at=retry_at)
        WebhookDelivery.objects.filter(id=claimed.id).update(
            attempts=F("attempts") + 1,
            next_attempt_at=retry_at,
            claim="",
            last_status=status,
            last_error=error,
        )
        give_up = (
            endpoint.enabled
            and endpoint.consecutive_failures >= conf.WEBHOOK_DISABLE_AFTER_FAILURES
            and endpoint.failing_since
            <= now - timedelta(seconds=conf.WEBHOOK_DISABLE_AFTER_SECONDS)
        )
        if give_up:
            reason = (
                f"disabled at {now:%Y-%m-%d %H:%M:%S}Z after {endpoint.consecutive_failures} "
                f"failures in a row since {endpoint.failing_since:%Y-%m-%d %H:%M:%S}Z; "
                f"last: {error}"
            )[:500]
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                enabled=False, disabled_reason=reason
            )
    if give_up:
        log.warning("webhook_disabled endpoint=%s reason=%s", endpoint.name, reason)
    return give_up


def webhook_queue_stats() -> dict:
    """What ``/metrics`` shows, from the tables: two aggregate queries, whatever their size."""
    now = timezone.now()
    endpoints = WebhookEndpoint.objects.aggregate(
        delivered=Coalesce(Sum("delivered_total"), 0),
        failed=Coalesce(Sum("failed_total"), 0),
        disabled=Count("id", filter=Q(enabled=False)),
        failing=Count("id", filter=Q(enabled=True, consecutive_failures__gt=0)),
    )
    queue = WebhookDelivery.objects.aggregate(
        queued=Count("id"),
        retrying=Count("id", filter=Q(attempts__gt=0)),
        oldest=Min("created"),
    )
    oldest = queue["oldest"]
    return {
        "delivered": endpoints["delivered"],
        "failed": endpoints["failed"],
        "endpoints_disabled": endpoints["disabled"],
        "endpoints_failing": endpoints["failing"],
        "queued": queue["queued"],
        "retrying": queue["retrying"],
        "oldest_seconds": (now - oldest).total_seconds() if oldest else 0.0,
    }
