from django.contrib import admin

from note.models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    """Read-only: notes are created by ``note_create`` (ids follow commit order)."""

    list_display = ["id", "kind", "title", "actor", "recipient", "created"]
    list_filter = ["kind"]
    search_fields = ["title", "content"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
