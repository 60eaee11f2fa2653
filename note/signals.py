"""``notify``: the one signal any app sends to put a notice in the inbox.

The fixed format (keyword arguments), as in the seed post's design:

- ``actor``: the user who did it, or ``None`` for the system;
- ``title``: one line, plain text (a lazy translation is fine);
- ``content``: plain text, may be empty;
- ``url``: where the notice leads, may be empty;
- ``kind``: a dotted name that clients can filter on, e.g. ``"news.published"``;
- ``recipients``: ``None`` for a public note; or a user, an iterable or a
  QuerySet of users, or a ``django.contrib.auth.models.Group`` (its members
  at the time of sending): one private note each;
- ``data`` (optional): a JSON object (at most ``NOTES_MAX_DATA_BYTES``) that
  travels with the note to the page and every client (an order id, an amount);
- ``target`` (optional): any saved model instance, kept as a generic relation
  (``note.target``) for the sender's own use; the note's ``url`` is its
  ``get_absolute_url()`` when no ``url`` is given.

Bad ``data`` or ``target`` raises ``django.core.exceptions.ValidationError``
naming the field and what is wrong; nothing is stored.

Nothing else: any other keyword raises ``TypeError`` naming it, before
anything is stored (a misspelt ``recipient=`` would otherwise leave
``recipients`` at ``None``, a public note).

``sender`` is the class of whatever caused it (``News``, ``User``...), so a
receiver can filter with ``notify.connect(fn, sender=News)``. The receiver in
``note.receivers`` stores the note(s); after commit they are delivered live.
"""

from django.dispatch import Signal

notify = Signal()

# Sent by ``note`` itself, after the transaction that wrote them commits, so
# that delivery (the ``realtime`` app) can hear of it without ``note`` knowing
# who delivers. ``notes_committed``: ``notes`` (a list of ``Note``).
# ``unread_changed``: ``user_id``, ``count`` and ``origin`` (the id of the
# connection that asked, or None). ``notes_changed``: ``user_id``, ``ids``,
# ``change`` (``{"read": bool}``, ``{"read": true, "all": true}`` or
# ``{"archived": bool}``) and ``origin``: one user's state of some notes
# changed. A receiver must not raise: the sender's transaction has already
# committed.
notes_committed = Signal()
unread_changed = Signal()
notes_changed = Signal()
# ``credentials_changed``: ``user_key`` (the user's pk as text) whose token,
# password, ``is_active`` or sessions changed (``note.credentials``).
credentials_changed = Signal()
# ``token_issued``: ``token_id`` and ``key_hash`` (its stored hash, never the
# token) of a token just created (``note.tokens.token_issue``).
token_issued = Signal()
# ``preferences_changed``: ``user_id``, ``preferences`` (plain data,
# ``note.preferences.Preferences.from_event`` reads it) and ``origin``.
preferences_changed = Signal()
