from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin  # noqa: F401  (registers the user admin first)
from django.contrib.auth import get_user_model
from django.utils.html import format_html

from note.credentials import credentials_end_all
from note.models import ApiToken, Note, NoteDigest
from note.tokens import token_issue


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


@admin.register(NoteDigest)
class NoteDigestAdmin(admin.ModelAdmin):
    """Read-only: each user's email digest, to see failed sends and when they are retried
    (``manage.py send_digests`` writes it)."""

    list_display = ["user", "sent_at", "covered_upto", "failures", "retry_at", "last_error"]
    list_filter = ["failures"]
    search_fields = ["last_error"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Review, issue and revoke tokens. Deleting one revokes it: its sockets close
    with 4401 in every server process. A new token's value is shown once, after *add*."""

    list_display = ["prefix", "name", "user", "created", "expires", "last_used"]
    list_filter = ["created", "expires"]
    search_fields = ["prefix", "name"]
    fields = ["user", "name", "expires", "prefix", "created", "last_used"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["prefix", "created", "last_used"]
        return ["user", "prefix", "created", "last_used"]  # a token changes name or expiry only

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = token_issue(user=obj.user, name=obj.name, expires=obj.expires)
        obj.pk = ApiToken.objects.get(prefix=raw[:12], user=obj.user).pk
        messages.warning(
            request,
            format_html(
                "The new token, shown this once (only its hash is kept): <code>{}</code>", raw
            ),
        )


@admin.action(description="Log out everywhere (end sessions, revoke API tokens)")
def logout_everywhere(modeladmin, request, queryset):
    """Added to the user admin: each selected user's sessions end, tokens are revoked,
    and their open WebSockets close with 4401 in every server process."""
    for user in queryset:
        try:
            sessions, tokens = credentials_end_all(user=user)
        except ValueError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            return
        modeladmin.message_user(
            request,
            f"{user}: {sessions} session(s) ended, {tokens} token(s) revoked",
            messages.SUCCESS,
        )


def add_user_actions(site: admin.AdminSite = admin.site) -> None:
    """Offer "log out everywhere" on the user model's admin, whoever registered it."""
    user_admin = site._registry.get(get_user_model())
    if user_admin is None:
        return
    actions = list(user_admin.actions or ())
    if logout_everywhere not in actions:
        user_admin.actions = [*actions, logout_everywhere]


add_user_actions()


# The webhooks' admin pages (note.webhooks.admin) register themselves on import.
from note.webhooks import admin as webhooks_admin  # noqa: E402, F401
