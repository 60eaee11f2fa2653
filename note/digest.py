"""Email digests: one email of a user's unread notes when they have been away.

``manage.py send_digests`` calls :func:`digest_send_due`; nothing here runs in
a request. One run walks the users in batches of ``NOTES_DIGEST_BATCH``:

1. *select* the users due: with an email address, active, not seen for
   ``NOTES_DIGEST_AWAY_SECONDS`` (``note.presence``; never seen counts as
   away), no digest within ``NOTES_DIGEST_PERIOD_SECONDS``, not claimed by
   another worker, not waiting to retry, and with a visible note newer than
   what their last digest covered (one query);
2. *claim* them: one conditional UPDATE that sets this run's claim and a
   lease where the row is still due. Each database applies it row by row
   under the row's lock and re-reads the condition after a wait (PostgreSQL
   and MariaDB under READ COMMITTED; SQLite has one writer at a time), so of
   two workers each user is claimed by exactly one;
3. *compose and send* each claimed user's email outside any transaction;
4. *settle*: a sent digest moves ``covered_upto`` to the newest note the run
   looked at and sets ``sent_at``; a failed one counts the failure, logs it
   and sets ``retry_at`` (doubling from ``NOTES_DIGEST_RETRY_SECONDS`` up to an
   hour), so nothing is lost while the SMTP server is down.

A worker that dies after claiming leaves the lease to expire
(``NOTES_DIGEST_LEASE_SECONDS``); one that dies between the SMTP server's
"accepted" and the settle sends that digest again after the lease: delivery
is at least once, and that window is one UPDATE long.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client import Counter

from note import conf
from note.digest_email import DigestNote, digest_message
from note.models import Note, NoteDigest, NotePresence
from note.preferences import note_preferences
from note.presence import note_present_user_ids
from note.selectors import note_last_id, note_unread_q, note_visible_q

log = logging.getLogger(__name__)

CHANNEL = "email"
# Unread notes one digest reads for a user; the email lists NOTES_DIGEST_MAX_NOTES
# of them and counts the rest.
FETCH_LIMIT = 200
RETRY_CEILING_SECONDS = 3600
# Errors that say the SMTP server itself is unreachable: the rest of the batch
# is put back to retry without trying each (a down server costs one timeout).
SERVER_DOWN = (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)

digests_sent = Counter("notes_digests_sent", "Digest emails the SMTP server accepted")
digests_failed = Counter("notes_digests_failed", "Digest emails that failed and wait to be retried")


@dataclass
class DigestRun:
    """What one :func:`digest_send_due` did."""

    sent: int = 0
    failed: int = 0
    nothing_new: int = 0  # claimed, but no unread note goes out by email
    errors: list[str] = field(default_factory=list)


def digest_send_due(
    *, now: datetime | None = None, stopping: Callable[[], bool] = lambda: False
) -> DigestRun:
    """Send every digest that is due now; returns the counts. Safe to run in
    several processes at once (see the module's docstring). ``stopping`` is
    asked between batches: a worker told to stop settles the batch in hand
    and leaves the rest to the next run."""
    run = DigestRun()
    cursor = None
    fixed = now
    while not stopping():
        # The clock of each batch: a long run's later leases start when they are taken.
        now = fixed or timezone.now()
        newest = note_last_id()
        user_ids = _due_user_ids(now=now, newest=newest, after=cursor)
        if not user_ids:
            break
        cursor = user_ids[-1]
        claimed = _claim(user_ids, now=now, newest=newest)
        if claimed:
            _send_batch(claimed, now=now, newest=newest, run=run)
    return run


def _due_q(*, now: datetime, newest: int) -> Q:
    period = timedelta(seconds=conf.DIGEST_PERIOD_SECONDS)
    return (
        Q(covered_upto__lt=newest)
        & (Q(sent_at__isnull=True) | Q(sent_at__lte=now - period))
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    )


def _due_user_ids(*, now: datetime, newest: int, after) -> list:
    """The next batch of users a digest may be due to, by primary key."""
    if newest <= 0:
        return []
    User = get_user_model()
    email = User.get_email_field_name()
    users = User._default_manager.exclude(**{email: ""}).exclude(**{f"{email}__isnull": True})
    if any(f.name == "is_active" for f in User._meta.concrete_fields):
        users = users.filter(is_active=True)
    if after is not None:
        users = users.filter(pk__gt=after)
    not_due = NoteDigest.objects.exclude(_due_q(now=now, newest=newest)).values("user_id")
    users = users.exclude(pk__in=note_present_user_ids(now=now)).exclude(pk__in=not_due)
    # Only users with a visible note past what their last digest covered: a
    # private note to one user must not make every away user's digest be
    # composed. Two probes of the (recipient, id) index per user.
    covered = NoteDigest.objects.filter(user_id=OuterRef("pk")).values("covered_upto")[:1]
    users = users.annotate(covered=Coalesce(Subquery(covered), Value(0))).filter(
        Exists(Note.objects.filter(recipient__isnull=True, id__gt=OuterRef("covered")))
        | Exists(Note.objects.filter(recipient_id=OuterRef("pk"), id__gt=OuterRef("covered")))
    )
    return list(users.order_by("pk").values_list("pk", flat=True)[: conf.DIGEST_BATCH])


def _claim(user_ids: list, *, now: datetime, newest: int) -> dict:
    """Claim the users of ``user_ids`` still due; returns user id -> (this claim,
    what their last digest covered, failures so far)."""
    NoteDigest.objects.bulk_create(
        [NoteDigest(user_id=pk) for pk in user_ids], ignore_conflicts=True
    )
    claim = uuid.uuid4().hex
    lease = now + timedelta(seconds=conf.DIGEST_LEASE_SECONDS)
    NoteDigest.objects.filter(_due_q(now=now, newest=newest), user_id__in=user_ids).update(
        claim=claim, claimed_until=lease
    )
    rows = NoteDigest.objects.filter(user_id__in=user_ids, claim=claim)
    return {
        user_id: (claim, covered, failures)
        for user_id, covered, failures in rows.values_list("user_id", "covered_upto", "failures")
    }


def _send_batch(claimed: dict, *, now: datetime, newest: int, run: DigestRun) -> None:
    User = get_user_model()
    users = User._default_manager.in_bulk(list(claimed))
    languages = dict(
        NotePresence.objects.filter(user_id__in=list(claimed)).values_list("user_id", "language")
    )
    # One SMTP session for the batch. If it cannot be opened, the first send
    # tries again and its failure settles the batch (``SERVER_DOWN``).
    connection = get_connection(fail_silently=False)
    down: Exception | None = None
    try:
        try:
            connection.open()
        except Exception:
            pass
        for user_id, (claim, covered, failures) in claimed.items():
            user = users.get(user_id)
            if user is None:  # deleted since: its row went with it
                continue
            if down is not None:
                _settle_failed(user_id, claim, failures, now=now, error=down, run=run)
                continue
            language = languages.get(user_id)
            message = _compose(user, covered=covered, newest=newest, language=language)
            if message is None:
                _settle(user_id, claim, newest=newest, sent_at=None)
                run.nothing_new += 1
                continue
            try:
                connection.send_messages([message])
            except Exception as exc:
                _settle_failed(user_id, claim, failures, now=now, error=exc, run=run)
                if isinstance(exc, SERVER_DOWN):
                    down = exc
                continue
            _settle(user_id, claim, newest=newest, sent_at=now)
            digests_sent.inc()
            run.sent += 1
    finally:
        try:
            connection.close()
        except Exception:
            pass


def _compose(user, *, covered: int, newest: int, language: str | None):
    """The user's digest message, or None when no unread note goes out by email."""
    preferences = note_preferences(user=user)
    notes = list(
        Note.objects.filter(
            note_visible_q(user=user), note_unread_q(user=user), id__gt=covered, id__lte=newest
        )
        .select_related("actor")
        .order_by("-id")[:FETCH_LIMIT]
    )
    wanted = [n for n in notes if preferences.delivers(n.kind, CHANNEL)]
    if not wanted:
        return None
    listed = wanted[: conf.DIGEST_MAX_NOTES]
    return digest_message(
        user=user,
        notes=[DigestNote.of(n) for n in listed],
        more=len(wanted) - len(listed),
        more_beyond=len(notes) == FETCH_LIMIT,
        language=language,
    )


def _settle(user_id, claim: str, *, newest: int, sent_at: datetime | None) -> None:
    """Release the claim; every note up to ``newest`` is covered."""
    changes = {"covered_upto": newest, "claim": "", "claimed_until": None}
    if sent_at is not None:
        changes.update(sent_at=sent_at, failures=0, retry_at=None, last_error="")
    if not NoteDigest.objects.filter(user_id=user_id, claim=claim).update(**changes):
        # Our lease ran out and another worker claimed the user: it may send again.
        log.warning("digest_lease_lost user=%s", user_id)


def _settle_failed(user_id, claim: str, failures: int, *, now, error, run: DigestRun) -> None:
    """Release the claim with nothing covered; the digest is retried after a back-off."""
    wait = min(RETRY_CEILING_SECONDS, conf.DIGEST_RETRY_SECONDS * 2**failures)
    NoteDigest.objects.filter(user_id=user_id, claim=claim).update(
        claim="",
        claimed_until=None,
        failures=F("failures") + 1,
        retry_at=now + timedelta(seconds=wait),
        last_error=repr(error)[:300],
    )
    digests_failed.inc()
    run.failed += 1
    run.errors.append(repr(error))
    log.warning(
        "digest_send_failed user=%s failures=%d retry_in=%ss error=%r",
        user_id,
        failures + 1,
        wait,
        error,
    )
