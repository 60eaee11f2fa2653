from django.urls import path

from note import api

urlpatterns = [
    path("notes/", api.note_list, name="api-notes"),
    path("notes/read/", api.note_read, name="api-notes-read"),
]
