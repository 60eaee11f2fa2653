"""``include("frontend.urls")`` under any prefix: the full inbox page, ``notes_ui:inbox``."""

from django.urls import path

from frontend import views

app_name = "notes_ui"

urlpatterns = [
    path("notes/", views.inbox_page, name="inbox"),
]
