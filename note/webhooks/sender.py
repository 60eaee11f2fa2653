"""One POST of one delivery: signed, timed out, its answer read only so far.

Every bound is here: the whole request (connect, send, read) ends within
``NOTES_WEBHOOK_TIMEOUT_SECONDS``; at most ``NOTES_WEBHOOK_MAX_RESPONSE_BYTES``
of the answer is read; redirects are not followed (a receiver that moved is
a failure the admin shows, not a silent hop elsewhere).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from note import conf
from note.webhooks import signing
from note.webhooks.queue import Claimed

USER_AGENT = "django-realtime-notes-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str = ""


def webhook_client() -> httpx.Client:
    """A client for one worker's threads (httpx.Client is thread-safe), pooled per receiver."""
    timeout = conf.WEBHOOK_TIMEOUT_SECONDS
    concurrency = conf.WEBHOOK_CONCURRENCY
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        headers={"User-Agent": USER_AGENT},
    )


def webhook_post(client: httpx.Client, claimed: Claimed) -> Outcome:
    """POST ``claimed`` and say how it went; never raises for the receiver's faults."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.webhook_sign(
            secret=claimed.secret, timestamp=timestamp, body=claimed.body
        ),
        signing.IDEMPOTENCY_HEADER: str(claimed.note_id),
        signing.EVENT_HEADER: "note",
        signing.ATTEMPT_HEADER: str(claimed.attempt),
    }
    deadline = time.monotonic() + conf.WEBHOOK_TIMEOUT_SECONDS
    try:
        with client.stream("POST", claimed.url, content=claimed.body, headers=headers) as answer:
            text = _read_capped(answer, deadline)
    except httpx.TimeoutException:
        return Outcome(False, None, "timed out")
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}" or type(exc).__name__)
    except _TooSlow:
        return Outcome(False, None, "timed out reading the answer")
    if 200 <= answer.status_code < 300:
        return Outcome(True, answer.status_code)
    detail = text.strip().replace("\n", " ")[:300]
    return Outcome(False, answer.status_code, f"HTTP {answer.status_code}: {detail}".strip())


class _TooSlow(Exception):
    pass


def _read_capped(answer: httpx.Response, deadline: float) -> str:
    """At most the cap's bytes of the answer, before the deadline; the rest is left unread."""
    cap = conf.WEBHOOK_MAX_RESPONSE_BYTES
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_raw():
        chunks.append(chunk[: cap - size])
        size += len(chunk)
        if size >= cap:
            break
        if time.monotonic() > deadline:
            raise _TooSlow
    return b"".join(chunks).decode("utf-8", "replace")
