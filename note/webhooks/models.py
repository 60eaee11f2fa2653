"""Webhook endpoints and the durable queue of their deliveries.

A delivery row exists from the moment its note is enqueued until the
receiver answers 2xx: the queue is the table, so a worker killed at any
point leaves every undelivered note in it. ``next_attempt_at`` is both the
back-off and the lease: a worker that claims a row pushes it past the
request's timeout, so a crashed worker's rows fall due again by themselves.
"""

from __future__ import annotations

from django.db import models


class WebhookEndpoint(models.Model):
    """A receiver of notes: where to POST, which notes, and how it has been doing.

    ``cursor`` is the id of the newest note already considered for this
    endpoint (enqueued or filtered out). Note ids are dense and in commit
    order, so "every note with ``id > cursor``" never skips one; the worker
    moves it in the same transaction that inserts the deliveries.
    """

    PUBLIC, PRIVATE, ALL = "public", "private", "all"
    VISIBILITY_CHOICES = [
        (PUBLIC, "public notes only"),
        (PRIVATE, "private notes only"),
        (ALL, "public and private notes"),
    ]

    name = models.SlugField(max_length=100, unique=True)
    url = models.URLField(
        max_length=500, help_text="http:// or https://; receives a POST per note."
    )
    # Empty: every kind.
    kinds = models.JSONField(default=list, blank=True, help_text="Kinds of note sent; empty: all.")
    visibility = models.CharField(max_length=8, choices=VISIBILITY_CHOICES, default=PUBLIC)
    # The HMAC key. Kept as is (a signature needs it); shown once when made.
    secret = models.CharField(max_length=100, editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    cursor = models.BigIntegerField(default=0, editable=False)
    # Health, written by the worker; shown in the admin and read by /metrics.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    # While failing, no delivery of this endpoint is tried before this time.
    retry_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, default="", editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_total = models.BigIntegerField(default=0, editable=False)
    failed_total = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One note waiting to reach one endpoint. Deleted once the receiver accepts it."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    note_id = models.BigIntegerField(help_text="The idempotency key the receiver gets.")
    # The JSON body, made when enqueued: retention may delete the note meanwhile.
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField()
    # Who holds the row now (a random token per claim), so a worker reads back its own.
    claim = models.CharField(max_length=32, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["next_attempt_at"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "note_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["claim"], name="webhook_delivery_claim"),
        ]

    def __str__(self) -> str:
        return f"#{self.note_id} to {self.endpoint_id}"
