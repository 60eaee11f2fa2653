from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime delivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from realtime.sessions import close_sockets_on_logout

        user_logged_out.connect(close_sockets_on_logout, dispatch_uid="realtime.logout")
