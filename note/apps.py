from django.apps import AppConfig


class NoteConfig(AppConfig):
    name = "note"
    verbose_name = "Notes"

    def ready(self) -> None:
        # Connecting here (not in models.py, as the seed post had to) makes the
        # receivers independent of import order.
        from note import receivers

        receivers.connect()
