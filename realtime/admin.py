from django.contrib import admin

from realtime.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with ``manage.py issue_token``; here they can be reviewed and revoked."""

    list_display = ["prefix", "user", "created", "last_used"]
    readonly_fields = ["user", "prefix", "created", "last_used"]

    def has_add_permission(self, request):
        return False
