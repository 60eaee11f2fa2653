"""The inbox's JSON API. Hosts mount it through ``include("realtime.urls")``, which
puts it under ``api/`` in the ``notes`` namespace (``notes:list``, ``notes:read``,
``notes:ticket``)."""

from django.urls import path

from note import api

urlpatterns = [
    path("notes/", api.note_list, name="list"),
    path("notes/read/", api.note_read, name="read"),
    path("notes/ticket/", api.note_ticket, name="ticket"),
]
