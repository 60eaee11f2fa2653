"""Notes, the sequence that orders them, per-user read state, API tokens, connect
tickets, and the log of credential changes that revocation reads."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class Note(models.Model):
    """One notice: public (``recipient`` is None) or addressed to one user.

    ``id`` is not an auto-increment: :func:`note.services.note_create` takes it
    from :class:`NoteSequence` inside the creating transaction, so ids are dense
    and follow commit order (see that model). Clients rely on this to resume.
    """

    id = models.BigIntegerField(primary_key=True, editable=False)
    kind = models.CharField(max_length=64, default="notice")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notes_received",
        help_text="Empty for a public note.",
    )
    title = models.CharField(max_length=500)
    # When set, the title is rendered per reader's language from this msgid
    # and ``title_params``; ``title`` keeps the default-language rendering.
    title_template = models.CharField(max_length=200, blank=True, default="")
    title_params = models.JSONField(default=dict, blank=True)
    content = models.TextField(blank=True, default="")
    url = models.CharField(max_length=500, blank=True, default="")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    # Structured data for the page or a client to act on (an order id, an
    # amount); size-checked with the note (``note.services``), sent as is.
    data = models.JSONField(default=dict, blank=True)
    # Any model instance, for the sender's own use (``note.target``); the
    # object id is text so that any primary key type fits.
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_id = models.CharField(max_length=64, blank=True, default="")
    target = GenericForeignKey("target_type", "target_id")

    class Meta:
        ordering = ["-id"]
        indexes = [
            # "visible to U with id > N" is two range scans of this index:
            # (recipient IS NULL, id > N) and (recipient = U, id > N).
            models.Index(fields=["recipient", "id"], name="note_recipient_id"),
            # The pending notes (note.stamping), which each stamp reads oldest
            # ticket first: a handful of entries, whatever the table's size or
            # its statistics (a plain "id < 0" was planned as a full scan).
            # PostgreSQL only; MariaDB reads them as a range of its primary key.
            models.Index(fields=["-id"], name="note_pending", condition=models.Q(id__lt=0)),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.title}"

    @property
    def public(self) -> bool:
        return self.recipient_id is None


class NoteSequence(models.Model):
    """A single counter row that hands out note ids.

    Incrementing it locks the row until the transaction ends, so a second
    transaction creating notes waits for the first to commit or roll back.
    Ids are therefore handed out in commit order with no holes (a rollback
    gives its ids back), which an auto-increment column cannot promise:
    PostgreSQL takes sequence values before commit, so two writers can commit
    out of id order and a client that resumed after the later id would never
    see the earlier one. The price is that note creation is serialized.
    """

    last_id = models.BigIntegerField(default=0)
    # Every public note with an id up to this one may have been pruned
    # (``note.retention``): a resume from below it is told so. Private
    # notes have a mark per user (``NotePruned``).
    pruned_upto = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"last note id {self.last_id}"


class NoteReadState(models.Model):
    """Per-user watermark: every visible note with ``id <= read_upto`` counts as read.

    Together with :class:`NoteRead` (single notes read above the watermark)
    this keeps read state to one row per user plus a few, never one row per
    user per public note. A new user's watermark starts at the newest note
    created before they joined, so older public notes are not unread for them.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE
    )
    read_upto = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user} read up to #{self.read_upto}"


class NoteRead(models.Model):
    """One note marked read individually, above its user's watermark."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "note"], name="note_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} read #{self.note_id}"


class NoteUnread(models.Model):
    """One note marked unread again at or below its user's watermark.

    Above the watermark "unread" is the absence of a :class:`NoteRead` row, so
    marking unread there deletes that row; only a note the watermark covers
    needs this exception. Raising the watermark (mark all read) drops them.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "note"], name="note_unread_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} unread again #{self.note_id}"


class NoteArchive(models.Model):
    """One note a user archived: out of their inbox listing unless asked for.

    Per user, and only for the users who acted: a public note stays one row
    in :class:`Note` whoever archives it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "note"], name="note_archived_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} archived #{self.note_id}"


class NoteDeleted(models.Model):
    """One public note a user deleted: gone for that user, still there for everyone else.

    Only public notes get these rows. A private note has one reader, so
    deleting it deletes its row (``note.deletion``); a public note stays one
    row in :class:`Note` and each user who deleted it has one of these. A
    deleted note is also read for its user (the deletion marks it so), which
    keeps the unread count one query with no term for these rows.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "note"], name="note_deleted_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} deleted #{self.note_id}"


class NotePruned(models.Model):
    """How far retention pruned one user's private notes: each of theirs with an id up
    to ``upto`` may be gone.

    Public notes have one mark for all (``NoteSequence.pruned_upto``); a resume
    is told ``pruned`` only when the larger of the two passes its cursor, so a
    prune of someone else's notes tells this user nothing.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    upto = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user}'s notes pruned up to #{self.upto}"


class NotePreference(models.Model):
    """A user's choice for one kind of note: muted or not (over the site's default)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=64)
    muted = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="note_preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {'mutes' if self.muted else 'hears'} {self.kind}"


class NoteChannelPreference(models.Model):
    """A user's choice for one kind on one channel (toast, desktop, email): on or off,
    over the site's ``NOTES_CHANNEL_DEFAULTS``. Kind ``*`` is the user's choice for
    every kind that has none of its own."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=64)
    channel = models.CharField(max_length=16)
    enabled = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="note_channel_preference_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {'gets' if self.enabled else 'skips'} {self.kind} by {self.channel}"


class NoteQuiet(models.Model):
    """A user's settings across kinds: do not disturb until a time, and whether
    muted notes count as unread.

    ``until`` is seconds since the epoch, so the connect path reads it with
    the user's :class:`NotePreference` rows in one plain statement on every
    database (``note.preferences``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    until = models.BigIntegerField(null=True, blank=True, help_text="Epoch seconds.")
    count_muted = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user} quiet until {self.until}"


class ApiToken(models.Model):
    """A bearer token for programs (scripts, ``notes-listen``).

    Only its SHA-256 is stored: the token itself is shown once.

    Tokens are 256-bit random strings, so a fast hash is enough (there is
    nothing to brute-force, unlike a password).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="To recognise a token.")
    name = models.CharField(
        max_length=100, blank=True, default="", help_text="What the token is for, say 'backup job'."
    )
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Empty: the token never expires."
    )
    # Written at most once per NOTES_TOKEN_LAST_USED_SECONDS (note.tokens), so
    # a busy token costs no write per connection; within that it is a lower bound.
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"{self.prefix}…{label} ({self.user})"

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()


class ConnectTicket(models.Model):
    """A one-use, short-lived pass that opens one WebSocket (``?ticket=``).

    Made by ``POST /api/notes/ticket/`` for a caller already authenticated
    over HTTP, so an app not served by Django never keeps a long-lived token
    in a page. Only the SHA-256 of the ticket is stored; the row is deleted
    when the ticket is used. The socket it opens then lives by the credential
    the ticket was made with (that session, or that token): ending it closes
    the socket.
    """

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_key = models.CharField(max_length=40, blank=True, default="")
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"ticket for {self.user} until {self.expires:%H:%M:%S}"


class CredentialChange(models.Model):
    """A user's credentials changed: a token ended, the password or ``is_active``
    changed, the user was deleted, or an admin logged them out everywhere.

    Written in the transaction that made the change, so it exists exactly when
    the change committed. Every server process reads the recent rows on its
    periodic catch-up (``realtime.hub``) and re-checks that user's sockets:
    that is how a revocation reaches every process with the channel layer down.
    ``user_key`` is the user's primary key as text, not a foreign key: the row
    must outlive a deleted user, and a host's user model may have any kind of key.
    """

    user_key = models.CharField(max_length=64)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"credentials of user {self.user_key} changed at {self.at:%Y-%m-%d %H:%M:%S}"


class NotePresence(models.Model):
    """When a user was last connected over a WebSocket, from any server process.

    Written in batches by each process's hub (``note.presence``): when a user's
    first socket opens or last one closes there, and every
    ``NOTES_PRESENCE_SECONDS`` for everyone still connected. So a connected
    user's ``last_seen`` is never older than that interval, and the users of a
    process that died age like everyone who left. ``language`` is the language
    of that connection (``Accept-Language``), the one their email is written in.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    last_seen = models.DateTimeField(db_index=True)
    language = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user} seen {self.last_seen:%Y-%m-%d %H:%M:%S}"


class NoteDigest(models.Model):
    """A user's email digest state (``note.digest``).

    ``covered_upto``: every note with an id up to it was listed in a digest
    sent, or found not to need one; ids follow commit order, so no later note
    can fall below it, and no digest lists a note twice. ``claim`` and
    ``claimed_until`` are a worker's lease on the user while it sends, so two
    workers never mail the same user; a failed send leaves the notes covered by
    nothing and sets ``retry_at``.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    covered_upto = models.BigIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"digest of {self.user} covers up to #{self.covered_upto}"


# The webhooks' tables live in their own module; imported here so Django finds them.
from note.webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
