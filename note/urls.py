"""The inbox's JSON API. Hosts mount it through ``include("realtime.urls")``, which
puts it under ``api/`` in the ``notes`` namespace (``notes:list``, ``notes:read``,
``notes:ticket``)."""

from django.urls import path

from note import api, unsubscribe

urlpatterns = [
    path("notes/", api.note_list, name="list"),
    path("notes/read/", api.note_read, name="read"),
    path("notes/ticket/", api.note_ticket, name="ticket"),
    path("notes/unread/", api.note_unread, name="unread"),
    path("notes/archive/", api.note_archive_view, name="archive"),
    path("notes/unarchive/", api.note_unarchive_view, name="unarchive"),
    path("notes/delete/", api.note_delete_view, name="delete"),
    path("notes/preferences/", api.note_preferences_view, name="preferences"),
    # A page, not JSON: the digest email's unsubscribe link (note.unsubscribe).
    path("notes/email/unsubscribe/<str:token>/", unsubscribe.unsubscribe_view, name="unsubscribe"),
]
