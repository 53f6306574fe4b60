"""Outbound webhooks in the admin: endpoints, and the deliveries' log with
each attempt and a re-send action. Endpoints switched off after a run of
failures are announced at the top of both lists.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from order_updates.exceptions import UnsafeWebhookTarget
from order_updates.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from order_updates.webhooks import targets
from order_updates.webhooks.delivery import resend


class WebhookEndpointForm(forms.ModelForm):
    """An endpoint: its address checked now (and at every send), the events it gets."""

    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What this endpoint is told about."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            targets.validate_url(url)
        except UnsafeWebhookTarget as exc:
            raise forms.ValidationError(str(exc), code="unsafe_target") from exc
        return url


def _warn_disabled(request, queryset=None):
    """A notice naming the endpoints order_updates switched off."""
    disabled = list(
        (queryset or WebhookEndpoint.objects.all()).filter(
            active=False, disabled_at__isnull=False
        )
    )
    if disabled:
        messages.warning(
            request,
            ngettext(
                "Webhook endpoint switched off after failing again and again: "
                "%(endpoints)s. Fix it, then tick “active” to turn it back on and "
                "re-send its failed deliveries.",
                "Webhook endpoints switched off after failing again and again: "
                "%(endpoints)s. Fix them, then tick “active” to turn them back on "
                "and re-send their failed deliveries.",
                len(disabled),
            )
            % {"endpoints": ", ".join(str(endpoint) for endpoint in disabled)},
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """The merchant's webhook endpoints."""

    form = WebhookEndpointForm
    list_display = [
        "url",
        "description",
        "active",
        "consecutive_failures",
        "disabled_at",
    ]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "secret",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "created_at",
    ]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None:
            # The secret is made when the endpoint is saved: one shown on the
            # add page would not be the one saved (it is shown after saving).
            fields = [name for name in fields if name != "secret"]
        return fields

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _warn_disabled(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            _warn_disabled(request, WebhookEndpoint.objects.filter(pk=object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if obj.active and (obj.disabled_at or obj.consecutive_failures):
            # Turned back on: a fresh run.
            obj.disabled_at = None
            obj.disabled_reason = ""
            obj.consecutive_failures = 0
        super().save_model(request, obj, form, change)


ATTEMPT_FIELDS = (
    "started_at",
    "url",
    "status_code",
    "duration_ms",
    "response",
    "error",
)


class WebhookAttemptInline(admin.TabularInline):
    """Each POST of a delivery: when, what status, what the endpoint said."""

    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every event sent or waiting for an endpoint, with its attempts; re-send."""

    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "order",
        "state",
        "attempts",
        "short_error",
    ]
    list_filter = ["state", "event_type", "endpoint"]
    search_fields = ["=event_id"]
    date_hierarchy = "created_at"
    list_select_related = ["endpoint", "order"]
    actions = ["resend"]
    inlines = [WebhookAttemptInline]
    readonly_fields = [
        field.name for field in WebhookDelivery._meta.fields if field.name != "id"
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Nothing is editable: with the view permission, Django shows the page
        # read-only, without save buttons that could only answer 403.
        return False

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _warn_disabled(request)
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return Truncator(obj.last_error).chars(80)

    def has_resend_permission(self, request):
        """Re-sending changes rows: it needs the change permission."""
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm("%s.%s" % (self.opts.app_label, codename))

    @admin.action(
        description=_("Send selected deliveries again"), permissions=["resend"]
    )
    def resend(self, request, queryset):
        deliveries = list(queryset)
        count = resend(deliveries)
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery queued again.",
                "%(count)d deliveries queued again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
        waiting = len(deliveries) - count
        if waiting:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was not queued again: it is still waiting "
                    "to be sent or being sent (only delivered and failed ones can "
                    "be sent again).",
                    "%(count)d deliveries were not queued again: they are still "
                    "waiting to be sent or being sent (only delivered and failed "
                    "ones can be sent again).",
                    waiting,
                )
                % {"count": waiting},
                messages.WARNING,
            )
