from django.contrib import admin

from note.models import ApiToken, Note


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with ``manage.py issue_token``; here they can be reviewed and revoked."""

    list_display = ["prefix", "user", "created", "last_used"]
    readonly_fields = ["user", "prefix", "created", "last_used"]

    def has_add_permission(self, request):
        return False
