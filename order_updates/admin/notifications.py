"""The notification log: every message sent, waiting or failed; re-send from it."""

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from order_updates.models import Notification
from order_updates.notifications.delivery import resend


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Every message sent, waiting or failed, with a re-send action.

    Rows can be deleted (with their order, or to tidy up) but not edited: they
    record what was sent.
    """

    list_display = [
        "created_at",
        "order",
        "type",
        "channel",
        "recipient",
        "state",
        "attempts",
        "short_error",
    ]
    list_filter = ["state", "channel", "type"]
    search_fields = ["recipient", "provider_message_id", "dedupe_key"]
    date_hierarchy = "created_at"
    list_select_related = ["order"]
    actions = ["resend"]
    readonly_fields = [
        field.name for field in Notification._meta.fields if field.name != "id"
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing is allowed (read-only form); nothing is editable.
        return request.method in ("GET", "HEAD") and super().has_view_permission(
            request, obj
        )

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return Truncator(obj.last_error).chars(80)

    def has_resend_permission(self, request):
        """Re-sending changes rows: it needs the change permission, not just view."""
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return request.user.has_perm("%s.%s" % (opts.app_label, codename))

    @admin.action(
        description=_("Send selected notifications again"), permissions=["resend"]
    )
    def resend(self, request, queryset):

        count = sum(resend(notification) for notification in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d notification queued again.",
                "%(count)d notifications queued again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
