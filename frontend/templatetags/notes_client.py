"""``{% notes_client_strings %}``: the few words the page's JavaScript shows, translated here.

They travel as a ``<script type="application/json">`` block (data, not code,
so the Content-Security-Policy allows it) instead of a JavaScript catalog.
"""

from __future__ import annotations

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString
from django.utils.translation import gettext

register = template.Library()


@register.simple_tag
def notes_client_strings() -> SafeString:
    """Rendered once per page, in the request's language; app.js reads it at start-up."""
    strings = {
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
        # "news" has no plural in English, so one message fits every count.
        "freshNews": gettext("Show new news (%(count)s)"),
    }
    return json_script(strings, "notes-client-strings")
