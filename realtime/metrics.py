"""Prometheus metrics of one server process, served at ``/metrics``.

Each daphne process keeps its own counters; point Prometheus at every
process (``docs/deploy.md``). Counting stays off the per-socket path where
it can: open connections are read from the hubs when scraped, and a
broadcast adds its frame count once, not once per socket.

``/metrics`` is not public: it answers only to ``METRICS_ALLOWED_IPS`` (the
client's address, ``note.addresses``) or to ``Authorization: Bearer <METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import logging
import threading

from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from realtime import conf

log = logging.getLogger(__name__)

connections_open = Gauge("realtime_connections_open", "WebSocket connections open now")
connections_accepted = Counter(
    "realtime_connections_accepted", "WebSocket connections accepted", ["writer"]
)  # writer: direct (frames written to daphne's transport, realtime/patches/direct_write.py) | asgi
notes_created = Counter("realtime_notes_created", "Notes committed by this process")
frames_delivered = Counter(
    "realtime_frames_delivered", "Note frames written to sockets", ["path"]
)  # path: live | replay
delivery_latency = Histogram(
    "realtime_delivery_latency_seconds",
    "From a note's commit to its frame written to this process's last socket",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
notes_replayed = Counter("realtime_notes_replayed", "Notes sent by ?after= replays")
notes_caught_up = Counter(
    "realtime_notes_caught_up", "Notes the hub read from the database because the layer lost them"
)
layer_errors = Counter(
    "realtime_layer_errors", "Channel layer failures", ["direction"]
)  # direction: send | receive
patch_active = Gauge(
    "realtime_patch_active", "1 when a patch of daphne/Twisted/autobahn is on", ["patch"]
)  # realtime.patches: off on a library release it was not checked against
clients_cut_off = Counter(
    "realtime_clients_cut_off", "Connections closed or refused by a limit or a check", ["reason"]
)  # reason: flood | frame_size | slow_reader | send_failed | bad_token | bad_ticket |
#   no_origin_no_token | credentials_revoked | token_expired | session_expired |
#   database_busy | database_error | handshakes_per_address | handshakes_per_user | sockets_per_user


token_checks = Counter(
    "realtime_token_checks", "Token handshakes checked, by where the answer came from", ["path"]
)  # path: cached (no database) | miss | stale (cached before a change, or expired) |
#   unsure (the change log not read lately) | down (Redis failed) | off (no cache configured)
token_cache_errors = Counter(
    "realtime_token_cache_errors", "Token cache operations that failed (Redis down or slow)"
)


def _open_connections() -> int:
    from realtime.runtime import open_connections

    return open_connections()


connections_open.set_function(_open_connections)


class WebhookCollector:
    """The webhook workers' numbers, read from the queue's tables when ``/metrics`` is scraped.

    The workers are processes of their own with nothing to scrape; what they
    did is in the tables (the endpoints' totals, the rows still queued), so
    any server process reports the same site-wide figures with two aggregate
    queries, whatever the queue's length. A database that fails to answer
    leaves these metrics out of that scrape; the rest still answers.
    """

    GAUGES = [
        ("notes_webhook_queued", "queued", "Deliveries waiting in the queue"),
        ("notes_webhook_retrying", "retrying", "Queued deliveries tried at least once"),
        ("notes_webhook_oldest_seconds", "oldest_seconds", "Age of the oldest queued delivery"),
        ("notes_webhook_endpoints_failing", "endpoints_failing", "Enabled endpoints failing"),
        ("notes_webhook_endpoints_disabled", "endpoints_disabled", "Endpoints disabled"),
    ]
    COUNTER = (
        "notes_webhook_deliveries",
        "Webhook POSTs by outcome, all workers (delivered: 2xx; failed: each failed try)",
    )

    def describe(self):
        """The names, without a query: registering calls this (``collect`` would read the
        database at import, before a test run has even made its database)."""
        yield CounterMetricFamily(*self.COUNTER, labels=["outcome"])
        for name, _, text in self.GAUGES:
            yield GaugeMetricFamily(name, text)

    # A scrape waits this long for the tables; past it (a database that hangs),
    # these metrics are left out and the rest of /metrics answers at once.
    TIMEOUT_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading: threading.Thread | None = None

    def collect(self):
        stats = self._read()
        if stats is None:
            return
        deliveries = CounterMetricFamily(*self.COUNTER, labels=["outcome"])
        deliveries.add_metric(["delivered"], stats["delivered"])
        deliveries.add_metric(["failed"], stats["failed"])
        yield deliveries
        for name, key, text in self.GAUGES:
            yield GaugeMetricFamily(name, text, value=stats[key])

    def _read(self) -> dict | None:
        """The stats, read on a thread of its own so a hung database cannot hold the scrape;
        at most one such read at a time (a scrape during a hung one skips them)."""
        result: dict = {}

        def read() -> None:
            from django.db import connections

            from note.inbox import webhook_queue_stats

            try:
                result["stats"] = webhook_queue_stats()
            except Exception:
                log.warning("metrics_webhook_stats_failed", exc_info=True)
            finally:
                connections.close_all()

        with self._lock:
            if self._reading is not None and self._reading.is_alive():
                return None
            self._reading = threading.Thread(target=read, name="metrics-webhooks", daemon=True)
            self._reading.start()
            reading = self._reading
        reading.join(self.TIMEOUT_SECONDS)
        return result.get("stats")


REGISTRY.register(WebhookCollector())


def _allowed(request: HttpRequest) -> bool:
    # Here, not at the top: the patches import this module before Django's apps load.
    from note.inbox import request_address

    token = conf.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())
    # The client's address, X-Forwarded-For believed only from NOTES_TRUSTED_PROXIES.
    return request_address(request) in conf.METRICS_ALLOWED_IPS


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse({"error": "metrics are not public"}, status=403)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
