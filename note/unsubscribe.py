"""The digest's unsubscribe link: signed, expiring, usable without logging in.

The token is the user's primary key signed with the site's ``SECRET_KEY``
(``django.core.signing``, its own salt) and a timestamp; it works for
``NOTES_DIGEST_UNSUBSCRIBE_SECONDS``. A GET shows a page with a button and
changes nothing, so a mail scanner that follows links unsubscribes no one;
the POST (the button, or a mail client's RFC 8058 one-click POST, which
carries no CSRF token: the signature is the credential) turns the user's
``email`` channel off through the preferences API.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from note import conf
from note.preferences import note_preferences, note_preferences_set

SALT = "note.digest.unsubscribe"


class UnsubscribeLinkError(Exception):
    """The link is forged, damaged, expired or names no user; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unsubscribe_token(*, user) -> str:
    return signing.dumps({"u": str(user.pk)}, salt=SALT)


def unsubscribe_user(token: str):
    """The user a token names; :class:`UnsubscribeLinkError` when it is not a good one."""
    try:
        data = signing.loads(token, salt=SALT, max_age=conf.DIGEST_UNSUBSCRIBE_SECONDS)
    except signing.SignatureExpired:
        raise UnsubscribeLinkError("expired") from None
    except signing.BadSignature:
        raise UnsubscribeLinkError("invalid") from None
    User = get_user_model()
    try:
        return User._default_manager.get(pk=data["u"])
    except (KeyError, TypeError, ValueError, User.DoesNotExist):
        raise UnsubscribeLinkError("invalid") from None


def digest_unsubscribe(*, user) -> None:
    """Turn off the user's email channel for every kind: no more digests.

    The user's choice for ``"*"`` beats the site's defaults for any kind; the
    user's own "email on" for a kind would beat it, so those choices go too.
    """
    on_for_kinds = note_preferences(user=user).channels.items()
    choices = [("*", "email", False)]
    choices += [
        (kind, "email", None) for kind, chans in on_for_kinds if kind != "*" and chans.get("email")
    ]
    note_preferences_set(user=user, channels=choices)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = unsubscribe_user(token)
    except UnsubscribeLinkError as exc:
        return render(request, "note/unsubscribe.html", {"state": exc.reason}, status=400)
    if request.method == "POST":
        digest_unsubscribe(user=user)
        return render(request, "note/unsubscribe.html", {"state": "done"})
    return render(request, "note/unsubscribe.html", {"state": "confirm"})
