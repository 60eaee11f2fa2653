"""The standalone server's URLs: our apps mounted as a host would mount them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("realtime.urls")),
    path("", include("frontend.urls")),
    path("api/", include("news.api_urls")),
    path("", include("news.urls")),
]

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
