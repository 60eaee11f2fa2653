"""``{% load notes %}``: the bell and the toasts, on any page of any host.

``{% notes_bell %}`` goes where the bell belongs (a header); ``{% notes_toasts %}``
once per page, anywhere in ``<body>``. Together they bring everything the page
needs: the stylesheet, one module script (no inline code, so a strict
Content-Security-Policy allows it), and the configuration as a
``<script type="application/json">`` block, which is data, not code. Every
URL is resolved here, so the host's ``STATIC_URL`` and URL prefix apply.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.translation import gettext

from realtime.routing import WEBSOCKET_PATH

register = template.Library()


@register.inclusion_tag("notes/bell.html", takes_context=True)
def notes_bell(context: template.Context) -> dict[str, Any]:
    """The live indicator, and for a logged-in user the bell with its inbox (and a
    link to the full inbox page when the host mounts ``frontend.urls``)."""
    try:
        page = reverse("notes_ui:inbox")
    except NoReverseMatch:
        page = None
    return {"user": _user(context), "inbox_page": page}


@register.inclusion_tag("notes/toasts.html", takes_context=True)
def notes_toasts(context: template.Context) -> dict[str, Any]:
    """The toast region, the stylesheet, the script and its configuration."""
    user = _user(context)
    request = context.get("request")
    csrf_token = get_token(request) if request is not None else context.get("csrf_token")
    return {
        "config": {
            "wsUrl": get_script_prefix() + WEBSOCKET_PATH,
            "listUrl": _reverse("notes:list"),
            "readUrl": _reverse("notes:read"),
            "unreadUrl": _reverse("notes:unread"),
            "archiveUrl": _reverse("notes:archive"),
            "unarchiveUrl": _reverse("notes:unarchive"),
            "deleteUrl": _reverse("notes:delete"),
            "user": user.get_username() if user is not None else None,
            "csrfToken": str(csrf_token or ""),
            "strings": client_strings(),
        }
    }


def client_strings() -> dict[str, Any]:
    """The few words the JavaScript shows, in the request's language."""
    return {
        "connecting": gettext("Connecting…"),
        "live": gettext("Live"),
        "reconnecting": gettext("Reconnecting…"),
        "dismiss": gettext("Dismiss"),
        # %(count)s is replaced in JavaScript.
        "bellLabel": gettext("Notifications, %(count)s unread"),
        "unread": gettext("Unread"),
        "markRead": gettext("Mark read"),
        "empty": gettext("No notifications yet."),
        "failed": gettext("Could not reach the server. Please try again."),
        "unmute": gettext("Unmute"),
        "reset": gettext("Reset"),
        # %(kind)s and %(channels)s are replaced in JavaScript.
        "channelsOff": gettext("%(kind)s: not by %(channels)s"),
        "channelNames": {
            "toast": gettext("pop-up"),
            "desktop": gettext("desktop"),
            "email": gettext("email"),
        },
        "desktopTurnOn": gettext("Turn on desktop notifications"),
        "desktopTurnOff": gettext("Turn off desktop notifications"),
        "desktopOn": gettext("Desktop notifications are on in this browser."),
        "desktopOff": gettext("Desktop notifications are off in this browser."),
        "desktopDenied": gettext(
            "This browser blocks notifications from this site: allow them in the site's "
            "settings to get desktop notifications."
        ),
        "desktopUnsupported": gettext("This browser cannot show desktop notifications."),
    }


def _user(context: template.Context):
    user = context.get("user")
    if user is None and context.get("request") is not None:
        user = getattr(context["request"], "user", None)
    return user if user is not None and user.is_authenticated else None


def _reverse(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        raise template.TemplateSyntaxError(
            f"{{% notes_toasts %}} needs the URL {name!r}: add "
            'path("<prefix>/", include("realtime.urls")) to your URLconf'
        ) from None
