"""The notification log: every message sent, waiting or failed, and a dashboard.

Rows are history: nobody edits or deletes them here. Staff with the change
permission re-send failed rows and cancel pending ones, through
:func:`~order_updates.notifications.delivery.resend` and
:func:`~order_updates.notifications.delivery.cancel` (conditional updates that
respect a worker's claim), never by editing a row.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import Truncator, capfirst
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from order_updates.admin.templates import SANDBOX_POLICY
from order_updates.carriers.figures import carrier_figures
from order_updates.models import Notification, NotificationState
from order_updates.notifications.channels import get_channels
from order_updates.notifications.delivery import cancel, resend
from order_updates.notifications.maintenance import health
from order_updates.notifications.types import get_notification_types

#: Why a row was not re-sent or cancelled, by the state it is in.
STATE_REASONS: dict[str, Any] = {
    NotificationState.PENDING: gettext_lazy("waiting to be sent"),
    NotificationState.SENDING: gettext_lazy("being sent right now"),
    NotificationState.SENT: gettext_lazy("already sent"),
    NotificationState.DELIVERED: gettext_lazy("already delivered"),
    NotificationState.FAILED: gettext_lazy("failed (re-send it instead)"),
    NotificationState.BOUNCED: gettext_lazy("bounced"),
    NotificationState.SUPPRESSED: gettext_lazy("suppressed"),
    NotificationState.SKIPPED: gettext_lazy("skipped or cancelled"),
}

#: The badge style of each state in the list.
STATE_BADGES: dict[str, str] = {
    NotificationState.FAILED: "ou-offbadge",
    NotificationState.BOUNCED: "ou-offbadge",
    NotificationState.SENT: "ou-on",
    NotificationState.DELIVERED: "ou-on",
    NotificationState.PENDING: "ou-warn",
    NotificationState.SENDING: "ou-warn",
}

#: The period of the dashboard's per-carrier figures, in days.
CARRIER_FIGURES_DAYS = 30

#: The states the dashboard warns about.
PROBLEM_STATES = [NotificationState.FAILED, NotificationState.BOUNCED]


def type_label(code: str) -> str:
    """A notification type's label, or its code if it no longer exists."""
    notification_type = get_notification_types().get(code)
    return str(notification_type.label) if notification_type else code


def channel_label(name: str) -> str:
    """A configured channel's label ("Email", "Text message"), or its name."""
    channel = get_channels().get(name)
    if channel is None:
        return _("%(name)s (no longer configured)") % {"name": name}
    return capfirst(str(channel.label))


def not_done_reasons(pks: list[int]) -> str:
    """Why these rows were left alone: "already sent (2), being sent right now (1)"."""
    counts = (
        Notification.objects.filter(pk__in=pks)
        .values("state")
        .annotate(count=Count("pk"))
        .order_by("state")
    )
    return ", ".join(
        "%s (%d)" % (STATE_REASONS.get(row["state"], row["state"]), row["count"])
        for row in counts
    )


class ChannelFilter(admin.SimpleListFilter):
    """Filter by channel, with the channels' labels."""

    title = gettext_lazy("channel")
    parameter_name = "channel"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, channel_label(name)) for name in get_channels()]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(channel=self.value())
        return queryset


class TypeFilter(admin.SimpleListFilter):
    """Filter by notification type, with the types' labels."""

    title = gettext_lazy("notification type")
    parameter_name = "type"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (code, str(item.label)) for code, item in get_notification_types().items()
        ]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value():
            return queryset.filter(type=self.value())
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Every message sent, waiting or failed: read-only history, with re-send and
    cancel for staff with the change permission, and a dashboard.

    Nothing is edited or deleted here; rows go with their order when the shop
    deletes it (so the delete permission is left to the model permissions, for
    Django's cascade check, while this screen offers no delete).
    """

    change_list_template = "admin/order_updates/notification/change_list.html"
    change_form_template = "admin/order_updates/notification/change_form.html"
    # Few, narrow columns: the list must fit a 1280 px window beside the filters.
    list_display = [
        "created_display",
        "order_link",
        "notification_display",
        "recipient_display",
        "state_display",
        "short_error",
    ]
    list_display_links = ["created_display"]
    list_filter = ["state", ChannelFilter, TypeFilter, "created_at"]
    search_fields = ["recipient", "provider_message_id", "dedupe_key"]
    date_hierarchy = "created_at"
    list_select_related = ["order"]
    list_per_page = 50
    actions = ["resend_selected", "cancel_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "order_link",
                    "type_display",
                    "channel_display",
                    "recipient",
                    "language",
                    "state_display",
                ]
            },
        ),
        (
            gettext_lazy("Delivery"),
            {
                "fields": [
                    "attempts",
                    "next_attempt_display",
                    "sent_at",
                    "delivered_at",
                    "resent_at",
                    "last_error",
                    "reason",
                    "provider",
                    "provider_message_id",
                ]
            },
        ),
        (
            gettext_lazy("Message"),
            {"fields": ["subject", "body_text_display", "html_display"]},
        ),
        (
            gettext_lazy("Details"),
            {
                "classes": ["collapse"],
                "fields": [
                    "event",
                    "fallback_display",
                    "dedupe_key",
                    "lease_expires_at",
                    "created_at",
                    "updated_at",
                ],
            },
        ),
    ]
    readonly_fields = [
        "order_link",
        "type_display",
        "channel_display",
        "recipient",
        "language",
        "state_display",
        "attempts",
        "next_attempt_display",
        "sent_at",
        "delivered_at",
        "resent_at",
        "last_error",
        "reason",
        "provider",
        "provider_message_id",
        "subject",
        "body_text_display",
        "html_display",
        "event",
        "fallback_display",
        "dedupe_key",
        "lease_expires_at",
        "created_at",
        "updated_at",
    ]

    class Media:
        css = {"all": ["order_updates/admin/admin.css"]}

    # Read-only history --------------------------------------------------------------

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        # Nothing is editable: viewing needs the view (or change) permission.
        return False

    def has_act_permission(self, request: Any) -> bool:
        """Re-send and cancel change rows: they need the model's change permission."""
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return request.user.has_perm("%s.%s" % (opts.app_label, codename))

    has_resend_permission = has_cancel_permission = has_act_permission

    def get_actions(self, request: Any) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request: Any, object_id: str, extra_context=None) -> Any:
        raise PermissionDenied

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "dashboard/",
                wrap(self.dashboard_view),
                name="%s_%s_dashboard" % info,
            ),
            path(
                "<int:notification_id>/html/",
                wrap(self.html_view),
                name="%s_%s_html" % info,
            ),
            path(
                "<int:notification_id>/resend/",
                wrap(require_POST(self.resend_view)),
                name="%s_%s_resend" % info,
            ),
            path(
                "<int:notification_id>/cancel/",
                wrap(require_POST(self.cancel_view)),
                name="%s_%s_cancel" % info,
            ),
            *super().get_urls(),
        ]

    # Columns and fields ---------------------------------------------------------------

    @admin.display(description=gettext_lazy("created"), ordering="created_at")
    def created_display(self, obj: Notification) -> str:
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("order"), ordering="order")
    def order_link(self, obj: Notification) -> str:
        opts = obj.order._meta
        try:
            url = reverse(
                "admin:%s_%s_change" % (opts.app_label, opts.model_name),
                args=[obj.order_id],
            )
        except NoReverseMatch:
            return str(obj.order)
        return format_html('<a href="{}">{}</a>', url, obj.order)

    @admin.display(description=gettext_lazy("type"), ordering="type")
    def type_display(self, obj: Notification) -> str:
        return type_label(obj.type)

    @admin.display(description=gettext_lazy("channel"), ordering="channel")
    def channel_display(self, obj: Notification) -> str:
        return channel_label(obj.channel)

    @admin.display(description=gettext_lazy("notification"), ordering="type")
    def notification_display(self, obj: Notification) -> str:
        return format_html(
            '{}<br><span class="ou-muted">{}</span>',
            type_label(obj.type),
            channel_label(obj.channel),
        )

    @admin.display(description=gettext_lazy("recipient"), ordering="recipient")
    def recipient_display(self, obj: Notification) -> str:
        # An email address may break after its "@" in a narrow column.
        name, at, domain = obj.recipient.partition("@")
        if not at:
            return obj.recipient
        return format_html("{}<wbr>@{}", name, domain)

    @admin.display(description=gettext_lazy("next attempt at"))
    def next_attempt_display(self, obj: Notification) -> Any:
        """When it is tried (again): only for a message still to be sent; a sent
        or failed one has no next attempt, whatever the column still holds."""
        if obj.state in (NotificationState.PENDING, NotificationState.SENDING):
            return obj.next_attempt_at
        return self.get_empty_value_display()

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_display(self, obj: Notification) -> str:
        return format_html(
            '<span class="ou-badge {}">{}</span>',
            STATE_BADGES.get(obj.state, ""),
            obj.get_state_display(),
        )

    @admin.display(description=gettext_lazy("error or reason"))
    def short_error(self, obj: Notification) -> str:
        text = Truncator(obj.last_error or obj.reason).chars(70)
        if obj.attempts > 1:
            return format_html(
                '{}<br><span class="ou-muted">{}</span>',
                text,
                _("%(count)d attempts") % {"count": obj.attempts},
            )
        return text

    @admin.display(description=gettext_lazy("fallback for"))
    def fallback_display(self, obj: Notification) -> str:
        """The row this one replaces (an SMS after a bounced email), linked."""
        original = obj.fallback_for
        if original is None:
            return "-"
        return format_html(
            '<a href="{}">{} ({})</a>',
            reverse("admin:order_updates_notification_change", args=[original.pk]),
            channel_label(original.channel),
            original.get_state_display(),
        )

    @admin.display(description=gettext_lazy("text"))
    def body_text_display(self, obj: Notification) -> str:
        if not obj.body_text:
            return "-"
        return format_html('<pre class="ou-sent-text">{}</pre>', obj.body_text)

    @admin.display(description=gettext_lazy("HTML"))
    def html_display(self, obj: Notification) -> str:
        if not obj.body_html:
            return _("No HTML part (recorded when the message is sent).")
        url = reverse("admin:order_updates_notification_html", args=[obj.pk])
        return format_html(
            '<iframe sandbox class="ou-email-frame" id="ou-email-frame" '
            'title="{}" src="{}"></iframe>',
            _("The email as it was sent"),
            url,
        )

    # Views ---------------------------------------------------------------------------

    def change_view(
        self, request: Any, object_id: str, form_url: str = "", extra_context=None
    ) -> Any:
        extra_context = dict(extra_context or {})
        extra_context["show_delete"] = False
        notification = Notification.objects.filter(pk=object_id).first()
        if notification is not None:
            extra_context["subtitle"] = _(
                "%(type)s by %(channel)s to %(recipient)s: %(state)s"
            ) % {
                "type": type_label(notification.type),
                "channel": channel_label(notification.channel).lower(),
                "recipient": notification.recipient or "?",
                "state": notification.get_state_display(),
            }
        if notification is not None and self.has_act_permission(request):
            extra_context["can_cancel"] = (
                notification.state == NotificationState.PENDING
            )
            extra_context["can_resend"] = notification.state in (
                NotificationState.FAILED,
                NotificationState.BOUNCED,
                NotificationState.SUPPRESSED,
                NotificationState.SKIPPED,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @xframe_options_sameorigin
    def html_view(self, request: Any, notification_id: int) -> Any:
        """The HTML part as sent, for the sandboxed frame (its own sandbox CSP)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        notification = get_object_or_404(Notification, pk=notification_id)
        response = HttpResponse(
            notification.body_html, content_type="text/html; charset=utf-8"
        )
        response["Content-Security-Policy"] = SANDBOX_POLICY
        response["Referrer-Policy"] = "no-referrer"
        return response

    def _back(self, notification_id: int) -> Any:
        return HttpResponseRedirect(
            reverse("admin:order_updates_notification_change", args=[notification_id])
        )

    def resend_view(self, request: Any, notification_id: int) -> Any:
        """Re-send one row (its page's button)."""
        if not self.has_act_permission(request):
            raise PermissionDenied
        notification = get_object_or_404(Notification, pk=notification_id)
        self._resend(request, [notification])
        return self._back(notification_id)

    def cancel_view(self, request: Any, notification_id: int) -> Any:
        """Cancel one pending row (its page's button)."""
        if not self.has_act_permission(request):
            raise PermissionDenied
        notification = get_object_or_404(Notification, pk=notification_id)
        self._cancel(request, [notification])
        return self._back(notification_id)

    # Actions -------------------------------------------------------------------------

    def _resend(self, request: Any, notifications: Any) -> None:
        done: list[int] = []
        left: list[int] = []
        for notification in notifications:
            (done if resend(notification) else left).append(notification.pk)
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification queued again.",
                    "%(count)d notifications queued again.",
                    len(done),
                )
                % {"count": len(done)},
                messages.SUCCESS,
            )
        if left:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification was not sent again: %(reasons)s.",
                    "%(count)d notifications were not sent again: %(reasons)s.",
                    len(left),
                )
                % {"count": len(left), "reasons": not_done_reasons(left)},
                messages.WARNING,
            )

    def _cancel(self, request: Any, notifications: Any) -> None:
        done: list[int] = []
        left: list[int] = []
        for notification in notifications:
            (done if cancel(notification, user=request.user) else left).append(
                notification.pk
            )
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification cancelled: it will not be sent.",
                    "%(count)d notifications cancelled: they will not be sent.",
                    len(done),
                )
                % {"count": len(done)},
                messages.SUCCESS,
            )
        if left:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notification was not cancelled: %(reasons)s.",
                    "%(count)d notifications were not cancelled: %(reasons)s.",
                    len(left),
                )
                % {"count": len(left), "reasons": not_done_reasons(left)},
                messages.WARNING,
            )

    @admin.action(
        description=gettext_lazy("Send selected notifications again"),
        permissions=["resend"],
    )
    def resend_selected(self, request: Any, queryset: Any) -> None:
        self._resend(request, queryset.select_related(None).only("pk"))

    @admin.action(
        description=gettext_lazy("Cancel selected pending notifications"),
        permissions=["cancel"],
    )
    def cancel_selected(self, request: Any, queryset: Any) -> None:
        self._cancel(request, queryset.select_related(None).only("pk"))

    # The dashboard -------------------------------------------------------------------

    def dashboard_view(self, request: Any) -> Any:
        """Counts by state, recent failures, the oldest waiting notification and
        the sweeper, each linking to the filtered log.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        changelist = reverse("admin:order_updates_notification_changelist")

        def link(**params: Any) -> str:
            return "%s?%s" % (changelist, urlencode(params))

        counts = dict(
            Notification.objects.order_by()
            .values_list("state")
            .annotate(count=Count("pk"))
            .values_list("state", "count")
        )
        states = [
            {
                "label": label,
                "count": counts.get(value, 0),
                "url": link(state__exact=value),
                "problem": value in PROBLEM_STATES and counts.get(value, 0) > 0,
            }
            for value, label in NotificationState.choices
        ]
        since = (now - datetime.timedelta(hours=24)).replace(microsecond=0)
        recent = Notification.objects.filter(
            state__in=PROBLEM_STATES, updated_at__gte=since
        )
        recent_by_channel = (
            recent.order_by().values_list("channel").annotate(count=Count("pk"))
        )
        oldest_pending = Notification.objects.filter(
            state=NotificationState.PENDING
        ).aggregate(oldest=Min("created_at"))["oldest"]
        status = health()
        due_before = (now - datetime.timedelta(seconds=1)).replace(microsecond=0)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Notifications dashboard"),
            "subtitle": None,
            "states": states,
            "total": sum(counts.values()),
            "recent_count": sum(count for _channel, count in recent_by_channel),
            "recent_by_channel": [
                {
                    "label": channel_label(channel),
                    "count": count,
                    "url": link(
                        state__in=",".join(PROBLEM_STATES),
                        updated_at__gte=since.isoformat(),
                        channel=channel,
                    ),
                }
                for channel, count in recent_by_channel
            ],
            "recent_url": link(
                state__in=",".join(PROBLEM_STATES),
                updated_at__gte=since.isoformat(),
            ),
            "oldest_pending": oldest_pending,
            "oldest_pending_age": timesince(oldest_pending, now)
            if oldest_pending
            else "",
            "pending_url": link(state__exact=NotificationState.PENDING, o="1"),
            "health": status,
            "oldest_due_age": timesince(
                now - datetime.timedelta(seconds=status.oldest_due_seconds), now
            )
            if status.oldest_due_seconds >= 60
            else "",
            "due_url": link(
                state__exact=NotificationState.PENDING,
                next_attempt_at__lte=due_before.isoformat(),
            ),
            "changelist_url": changelist,
            "carrier_days": CARRIER_FIGURES_DAYS,
            "carriers": carrier_figures(CARRIER_FIGURES_DAYS, now=now),
        }
        return TemplateResponse(
            request, "admin/order_updates/notification/dashboard.html", context
        )
