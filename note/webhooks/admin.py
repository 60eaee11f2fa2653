"""The admin's view of webhooks: register endpoints, see their health and their queue.

The form validates through the same functions as ``manage.py webhooks``, so
bad input gets the same plain message. A new endpoint's secret is shown
once, after *add* (and after *rotate secret*); the list shows why an
endpoint was disabled and what its last failure was.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from note.webhooks import endpoints
from note.webhooks.endpoints import EndpointError
from note.webhooks.models import WebhookDelivery, WebhookEndpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    kinds = forms.CharField(
        required=False,
        help_text="Comma-separated kinds of note to send, e.g. news.published; empty: all.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "kinds", "visibility", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["kinds"] = ", ".join(self.instance.kinds)

    def _clean_with(self, field, validate):
        try:
            return validate(self.cleaned_data.get(field) or "")
        except EndpointError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_kinds(self):
        return self._clean_with("kinds", endpoints.endpoint_validate_kinds)

    def clean_url(self):
        return self._clean_with("url", endpoints.endpoint_validate_url)

    def clean_name(self):
        return self._clean_with("name", endpoints.endpoint_validate_name)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = [
        "name",
        "url",
        "enabled",
        "visibility",
        "kinds_shown",
        "queued",
        "delivered_total",
        "failed_total",
        "consecutive_failures",
        "failing_since",
        "last_error",
        "disabled_reason",
    ]
    list_filter = ["enabled", "visibility"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "disabled_reason",
        "secret_hint",
        "cursor",
        "consecutive_failures",
        "failing_since",
        "retry_at",
        "last_error",
        "last_success_at",
        "delivered_total",
        "failed_total",
    ]
    actions = ["enable", "disable", "rotate_secret"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_queued=Count("deliveries"))

    @admin.display(description="queued", ordering="_queued")
    def queued(self, obj):
        return obj._queued

    @admin.display(description="kinds")
    def kinds_shown(self, obj):
        return ", ".join(obj.kinds) or "all"

    @admin.display(description="secret")
    def secret_hint(self, obj):
        return f"{obj.secret[:10]}… (shown once when made; rotate for a new one)"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.secret = endpoints.webhook_secret_new()
        obj.cursor = endpoints.note_newest_id()
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            format_html("The endpoint's secret, shown this once: <code>{}</code>", obj.secret),
        )

    @admin.action(description="Enable (and send what was missed)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            endpoints.endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} endpoint(s) enabled", messages.SUCCESS)

    @admin.action(description="Disable (keep the queue)")
    def disable(self, request, queryset):
        for endpoint in queryset:
            endpoints.endpoint_disable(endpoint=endpoint, reason=f"disabled by {request.user}")
        self.message_user(request, f"{queryset.count()} endpoint(s) disabled", messages.SUCCESS)

    @admin.action(description="Rotate the secret (shown once)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = endpoints.endpoint_rotate_secret(endpoint=endpoint)
            self.message_user(
                request,
                format_html("New secret of {}, shown this once: <code>{}</code>", endpoint, secret),
                messages.WARNING,
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The queue, read-only: what waits, how often it was tried, and the last failure."""

    list_display = [
        "note_id",
        "endpoint",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
    ]
    list_filter = ["endpoint"]
    list_select_related = ["endpoint"]
    exclude = ["body", "claim"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
