from django.contrib import admin
from django.urls import include, path

from realtime.health import healthz
from realtime.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include("note.urls")),
    path("api/", include("news.api_urls")),
    path("", include("news.urls")),
    path("", include("frontend.urls")),
]

handler400 = "realtime.errors.bad_request"
handler404 = "realtime.errors.not_found"
handler500 = "realtime.errors.server_error"
