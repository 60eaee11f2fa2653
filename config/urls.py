"""The standalone server's URLs: our apps mounted as a host would mount them."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from note.limits import login_limited

urlpatterns = [
    # Before the admin's and auth's own: every login form posts here or to the
    # admin's, and both count against NOTES_LIMIT_LOGIN_* (issue 18).
    path("admin/login/", login_limited(admin.site.login), name="admin-login"),
    path("accounts/login/", login_limited(auth_views.LoginView.as_view()), name="login"),
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
