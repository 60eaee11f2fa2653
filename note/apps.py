from django.apps import AppConfig


class NoteConfig(AppConfig):
    name = "note"
    verbose_name = "Notes"
    # Our migrations use BigAutoField: a host whose DEFAULT_AUTO_FIELD differs
    # must not get a new migration for our tables from makemigrations.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connecting here (not in models.py, as the seed post had to) makes the
        # receivers independent of import order.
        from note import checks, receivers, revocations  # noqa: F401  (checks register themselves)

        receivers.connect()
        revocations.connect()
