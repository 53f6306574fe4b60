"""What the API reads and writes. Orders are the shop's own model, reached
through the adapter, so they are plain serializers, not model serializers."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from order_updates.core.adapter import get_adapter
from order_updates.models import Notification, OrderEvent, Shipment
from order_updates.pipeline import get_pipeline


class StatusSerializer(serializers.Serializer):
    """A status of the pipeline, as customers see it."""

    code = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    stage = serializers.CharField(allow_null=True)
    terminal = serializers.BooleanField()


def status_data(code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    status = get_pipeline().get_or_retired(code)
    return {
        "code": status.code,
        "label": str(status.label),
        "description": str(status.description),
        "stage": status.stage,
        "terminal": status.terminal,
    }


class OrderSerializer(serializers.Serializer):
    """An order in a list: its number and current status."""

    number = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    status_changed_at = serializers.SerializerMethodField()

    def get_number(self, order: Any) -> str:
        return get_adapter().get_number(order)

    @extend_schema_field(StatusSerializer(allow_null=True))
    def get_status(self, order: Any) -> dict[str, Any] | None:
        state = getattr(order, "order_updates_state", None)
        return status_data(state.status if state else None)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_status_changed_at(self, order: Any) -> Any:
        state = getattr(order, "order_updates_state", None)
        if state is None:
            return None
        return serializers.DateTimeField().to_representation(state.status_changed_at)


class EventSerializer(serializers.ModelSerializer):
    """One entry of the order's timeline, as the customer sees it."""

    from_status = serializers.SerializerMethodField()
    to_status = serializers.SerializerMethodField()
    kind_label = serializers.CharField(source="get_kind_display")

    class Meta:
        model = OrderEvent
        fields = [
            "sequence",
            "kind",
            "kind_label",
            "from_status",
            "to_status",
            "message",
            "created_at",
        ]

    @extend_schema_field(StatusSerializer(allow_null=True))
    def get_from_status(self, event: OrderEvent) -> dict[str, Any] | None:
        return status_data(event.from_status)

    @extend_schema_field(StatusSerializer(allow_null=True))
    def get_to_status(self, event: OrderEvent) -> dict[str, Any] | None:
        return status_data(event.to_status)


class StaffEventSerializer(EventSerializer):
    """A timeline entry with what only staff see: the note and who acted."""

    actor = serializers.CharField(source="actor_label")

    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "note", "actor", "data"]


class ShipmentSerializer(serializers.ModelSerializer):
    """A parcel sent for the order."""

    class Meta:
        model = Shipment
        fields = ["id", "carrier", "tracking_number", "tracking_url", "shipped_at"]


class OrderDetailSerializer(OrderSerializer):
    """An order with its customer-visible timeline and its shipments."""

    timeline = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField()

    @extend_schema_field(EventSerializer(many=True))
    def get_timeline(self, order: Any) -> list[dict[str, Any]]:
        events = [event for event in self.context["events"] if event.is_public]
        return EventSerializer(events, many=True).data

    @extend_schema_field(ShipmentSerializer(many=True))
    def get_shipments(self, order: Any) -> list[dict[str, Any]]:
        return ShipmentSerializer(self.context["shipments"], many=True).data


# Staff: what they send -------------------------------------------------------------


class StatusChangeSerializer(serializers.Serializer):
    """Move an order to a status."""

    status = serializers.CharField(max_length=64, help_text=_("A status code."))
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Shown to the customer."),
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_("Only staff see it.")
    )
    notify = serializers.BooleanField(required=False, default=True)


class StatusChangedSerializer(serializers.Serializer):
    """The order's status after a change, and the event written (null when the
    order already had that status)."""

    number = serializers.CharField()
    status = StatusSerializer()
    event = StaffEventSerializer(allow_null=True)


class BulkStatusChangeSerializer(StatusChangeSerializer):
    """Move many orders, given by number, to one status."""

    orders = serializers.ListField(
        child=serializers.CharField(max_length=200),
        allow_empty=False,
        help_text=_("Order numbers."),
    )

    def validate_orders(self, value: list[str]) -> list[str]:
        from order_updates.conf import app_settings

        limit = app_settings.API_BULK_MAX_ORDERS
        if len(value) > limit:
            raise serializers.ValidationError(
                _("At most %(limit)d orders per request.") % {"limit": limit},
                code="too_many",
            )
        return list(dict.fromkeys(value))


class BulkItemSerializer(serializers.Serializer):
    """What happened to one order of a bulk change."""

    number = serializers.CharField()
    result = serializers.ChoiceField(choices=["changed", "skipped", "not_found"])
    reason = serializers.CharField(allow_blank=True)


class BulkResultSerializer(serializers.Serializer):
    """Per-order results of a bulk change, in the order given."""

    changed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    not_found = serializers.IntegerField()
    results = BulkItemSerializer(many=True)


class ShipmentCreateSerializer(serializers.Serializer):
    """A shipment to record; with ``status``, the order moves too."""

    carrier = serializers.CharField(required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(
        required=False, allow_blank=True, default=""
    )
    tracking_url = serializers.CharField(required=False, allow_blank=True, default="")
    shipped_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None
    )
    status = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=64
    )
    message = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(required=False, default=True)


class NoteSerializer(serializers.Serializer):
    """A note on the timeline: for the customer if ``public``, else staff only."""

    text = serializers.CharField()
    public = serializers.BooleanField(required=False, default=False)
    notify = serializers.BooleanField(required=False, default=False)


class NotificationSerializer(serializers.ModelSerializer):
    """A message to the customer, and where it is."""

    class Meta:
        model = Notification
        fields = [
            "id",
            "type",
            "channel",
            "recipient",
            "state",
            "attempts",
            "last_error",
            "reason",
            "created_at",
            "sent_at",
            "delivered_at",
        ]


class ErrorSerializer(serializers.Serializer):
    """An error: a message and a stable code."""

    detail = serializers.CharField()
    code = serializers.CharField()


# The customer's choices ---------------------------------------------------------------


class PreferencesSerializer(serializers.Serializer):
    """What the customer wants: channels per category, consent to text
    messages, time zone (for quiet hours). Every field is optional on write."""

    channels = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("Category → the channels wanted for it (the exact list)."),
    )
    sms_consent = serializers.BooleanField(required=False)
    timezone = serializers.CharField(required=False, allow_blank=True)

    def validate_channels(self, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from order_updates.notifications.channels import get_channels
        from order_updates.notifications.types import CATEGORIES

        names = set(get_channels())
        for category, channels in value.items():
            if category not in CATEGORIES:
                raise serializers.ValidationError(
                    _("Unknown category “%(category)s”; categories are: %(known)s.")
                    % {"category": category, "known": ", ".join(CATEGORIES)},
                    code="unknown_category",
                )
            unknown = [name for name in channels if name not in names]
            if unknown:
                raise serializers.ValidationError(
                    _("Unknown channel “%(channel)s”; channels are: %(known)s.")
                    % {"channel": unknown[0], "known": ", ".join(sorted(names))},
                    code="unknown_channel",
                )
        return value

    def validate_timezone(self, value: str) -> str:
        import zoneinfo

        if value and value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(
                _("Unknown time zone “%(zone)s”.") % {"zone": value[:64]},
                code="unknown_timezone",
            )
        return value


class PushSubscriptionKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField()
    auth = serializers.CharField()


class PushSubscriptionSerializer(serializers.Serializer):
    """A browser's ``PushSubscription.toJSON()``."""

    endpoint = serializers.CharField()
    keys = PushSubscriptionKeysSerializer()


class PushEndpointSerializer(serializers.Serializer):
    """Which subscription to drop."""

    endpoint = serializers.CharField()


class PushSubscribedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
