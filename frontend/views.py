"""The inbox page: every visible note, paged, filtered, with actions. Its data
comes from the JSON API (``notes:list`` and the action URLs); this only
renders the frame of the page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext


@login_required
def inbox_page(request):
    return render(request, "notes/inbox_page.html", {"strings": page_strings()})


def page_strings() -> dict[str, str]:
    """The words inbox-page.js shows, in the request's language."""
    return {
        "markRead": gettext("Mark read"),
        "markUnread": gettext("Mark unread"),
        "archive": gettext("Archive"),
        "unarchive": gettext("Unarchive"),
        "delete": gettext("Delete"),
        "confirmDelete": gettext("Delete for good?"),
        "confirmHint": gettext("Press again to delete, Escape to keep it."),
        "older": gettext("Older notifications"),
        "empty": gettext("Nothing here."),
        "failed": gettext("Could not reach the server. Please try again."),
        "unread": gettext("Unread"),
        "archived": gettext("Archived"),
        "muted": gettext("Muted"),
    }
