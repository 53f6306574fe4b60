"""What the API reads and writes. Orders are the shop's own model, reached
through the adapter, so they are plain serializers, not model serializers."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from order_updates.carriers.registry import carrier_name, tracking_link
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    Notification,
    OrderEvent,
    Shipment,
    TrackingEvent,
    TrackingStatus,
    TrackingSubstatus,
)
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


class EstimateSerializer(serializers.Serializer):
    """An estimated delivery: a date (``latest`` left out or the same), or a
    window of dates."""

    earliest = serializers.DateField()
    latest = serializers.DateField(
        required=False, help_text=_("The last day of a window; default: earliest.")
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        latest = data.get("latest") or data["earliest"]
        if latest < data["earliest"]:
            raise serializers.ValidationError(
                {"latest": [_("The latest date is before the earliest date.")]},
                code="invalid",
            )
        return {"earliest": data["earliest"], "latest": latest}


class ShipmentItemSerializer(serializers.Serializer):
    """A line of the order in the parcel: the adapter's line key and how many."""

    line = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class ScanSerializer(serializers.ModelSerializer):
    """A carrier scan: when, where, what it means (the normalized status) and
    what the carrier said."""

    status_label = serializers.CharField(source="get_status_display")
    substatus_label = serializers.CharField(source="get_substatus_display")

    class Meta:
        model = TrackingEvent
        fields = [
            "occurred_at",
            "status",
            "status_label",
            "substatus",
            "substatus_label",
            "location",
            "message",
        ]


class ShipmentSerializer(serializers.ModelSerializer):
    """A parcel sent for the order: carrier (its code, and its name as people
    know it), service, every tracking number, the tracking link, the items,
    the normalized tracking status, the estimated delivery.

    Expects ``more_tracking_numbers`` prefetched (else one query per shipment).
    """

    carrier_name = serializers.SerializerMethodField()
    tracking_numbers = serializers.SerializerMethodField()
    tracking_url = serializers.SerializerMethodField()
    items = ShipmentItemSerializer(many=True)
    tracking_status = serializers.ChoiceField(choices=TrackingStatus.choices)
    tracking_status_label = serializers.CharField(source="get_tracking_status_display")
    tracking_substatus = serializers.ChoiceField(
        choices=[("", ""), *TrackingSubstatus.choices]
    )
    tracking_substatus_label = serializers.CharField(
        source="get_tracking_substatus_display"
    )
    estimated_delivery = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "carrier",
            "carrier_name",
            "service",
            "tracking_number",
            "tracking_numbers",
            "tracking_url",
            "items",
            "tracking_status",
            "tracking_status_label",
            "tracking_substatus",
            "tracking_substatus_label",
            "estimated_delivery",
            "shipped_at",
            "delivered_at",
        ]

    def get_carrier_name(self, shipment: Shipment) -> str:
        return carrier_name(shipment.carrier, shipment.carrier_name)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tracking_numbers(self, shipment: Shipment) -> list[str]:
        more = [row.number for row in shipment.more_tracking_numbers.all()]
        return [number for number in [shipment.tracking_number, *more] if number]

    def get_tracking_url(self, shipment: Shipment) -> str:
        return tracking_link(
            shipment.carrier, shipment.tracking_number, shipment.tracking_url
        )

    @extend_schema_field(EstimateSerializer(allow_null=True))
    def get_estimated_delivery(self, shipment: Shipment) -> dict[str, Any] | None:
        latest = shipment.estimated_delivery_to
        if latest is None:
            return None
        return {
            "earliest": (shipment.estimated_delivery_from or latest).isoformat(),
            "latest": latest.isoformat(),
        }


class ShipmentDetailSerializer(ShipmentSerializer):
    """A shipment with its carrier scans, newest first (expects
    ``tracking_events`` prefetched in that order: :func:`shipments_with_scans`)."""

    scans = ScanSerializer(many=True, source="tracking_events.all")

    class Meta(ShipmentSerializer.Meta):
        fields = [*ShipmentSerializer.Meta.fields, "scans"]


def shipments_with_scans(shipments: Any) -> list[Shipment]:
    """``shipments`` (a queryset or saved rows) with their further tracking
    numbers and their scans (newest first): two queries, whatever their number.
    """
    from django.db.models import Prefetch, prefetch_related_objects

    rows = list(shipments)
    prefetch_related_objects(
        rows,
        "more_tracking_numbers",
        Prefetch(
            "tracking_events",
            queryset=TrackingEvent.objects.order_by("-occurred_at", "-pk"),
        ),
    )
    return rows


class OrderDetailSerializer(OrderSerializer):
    """An order with its customer-visible timeline and its shipments (with
    their scans)."""

    timeline = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField()

    @extend_schema_field(EventSerializer(many=True))
    def get_timeline(self, order: Any) -> list[dict[str, Any]]:
        events = [event for event in self.context["events"] if event.is_public]
        return EventSerializer(events, many=True).data

    @extend_schema_field(ShipmentDetailSerializer(many=True))
    def get_shipments(self, order: Any) -> list[dict[str, Any]]:
        return ShipmentDetailSerializer(self.context["shipments"], many=True).data


# Public tracking ----------------------------------------------------------------------


class StepSerializer(serializers.Serializer):
    """A step of the progress bar, and whether the order is past it."""

    code = serializers.CharField()
    label = serializers.CharField()
    state = serializers.ChoiceField(choices=["done", "current", "upcoming"])


class ProgressSerializer(serializers.Serializer):
    """Where the order is on the progress bar (the customer pages' bar)."""

    steps = StepSerializer(many=True)
    percent = serializers.IntegerField()
    off_path = serializers.BooleanField()
    completed = serializers.BooleanField()


class TimelineEntrySerializer(serializers.Serializer):
    """One event in words, as the customer pages show it."""

    kind = serializers.CharField()
    at = serializers.DateTimeField()
    title = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    status = serializers.CharField(source="status.code", allow_null=True, default=None)
    problem = serializers.BooleanField()


class TrackingSerializer(serializers.Serializer):
    """What the public tracking page shows of an order (its
    :class:`~order_updates.customer.data.OrderDetail`): the number, status,
    progress, timeline and shipments; no name, address, email or items."""

    number = serializers.CharField()
    status = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    timeline = TimelineEntrySerializer(many=True)
    shipments = serializers.SerializerMethodField()

    @extend_schema_field(StatusSerializer(allow_null=True))
    def get_status(self, detail: Any) -> dict[str, Any] | None:
        progress = detail.progress
        return status_data(progress.status.code if progress else None)

    @extend_schema_field(ProgressSerializer(allow_null=True))
    def get_progress(self, detail: Any) -> dict[str, Any] | None:
        if detail.progress is None:
            return None
        return ProgressSerializer(detail.progress).data

    @extend_schema_field(ShipmentDetailSerializer(many=True))
    def get_shipments(self, detail: Any) -> list[dict[str, Any]]:
        rows = shipments_with_scans(info.model for info in detail.shipments)
        return ShipmentDetailSerializer(rows, many=True).data


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


class StatusChangedSerializer(serializers.Serializer):
    """The order's status after a change, the event written (null when the
    order already had that status) and the messages it queued for the customer
    (none: nobody is told, e.g. the type is switched off or ``notify`` false)."""

    number = serializers.CharField()
    status = StatusSerializer()
    event = StaffEventSerializer(allow_null=True)
    notifications = NotificationSerializer(many=True)


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
        return value


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


CARRIER_HELP = _(
    "A code of the carrier registry (unknown codes answer unknown_carrier); for a "
    "carrier without one, leave it empty and give carrier_name."
)


class ShipmentCreateSerializer(serializers.Serializer):
    """A shipment to record; with ``status``, the order moves too."""

    carrier = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=CARRIER_HELP
    )
    carrier_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The carrier's name, for a carrier without a code."),
    )
    service = serializers.CharField(required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(
        required=False, allow_blank=True, default=""
    )
    more_tracking_numbers = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        max_length=100,
        help_text=_("The further parcels' tracking numbers."),
    )
    tracking_url = serializers.CharField(required=False, allow_blank=True, default="")
    items = ShipmentItemSerializer(
        many=True,
        required=False,
        help_text=_("The order lines in the parcel; left out: the whole order."),
    )
    estimated_delivery = EstimateSerializer(required=False)
    shipped_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None
    )
    status = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=64
    )
    message = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(required=False, default=True)


class ShipmentUpdateSerializer(serializers.Serializer):
    """What to change of a shipment: only the fields sent change."""

    carrier = serializers.CharField(
        required=False, allow_blank=True, help_text=CARRIER_HELP
    )
    carrier_name = serializers.CharField(required=False, allow_blank=True)
    service = serializers.CharField(required=False, allow_blank=True)
    tracking_number = serializers.CharField(required=False, allow_blank=True)
    tracking_url = serializers.CharField(required=False, allow_blank=True)
    shipped_at = serializers.DateTimeField(required=False, allow_null=True)
    more_tracking_numbers = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=100,
        help_text=_(
            "Replaces the further parcels' tracking numbers ([] removes them)."
        ),
    )
    items = ShipmentItemSerializer(
        many=True,
        required=False,
        help_text=_("Replaces the order lines in the parcel ([]: the whole order)."),
    )
    estimated_delivery = EstimateSerializer(
        required=False,
        help_text=_("A new estimate; later than the last one, the customer is told."),
    )
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

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        from order_updates.core.shipments import UPDATABLE_FIELDS

        shipment_changes = (*UPDATABLE_FIELDS, "more_tracking_numbers", "items")
        changeable = (*shipment_changes, "estimated_delivery")
        if not any(name in data for name in changeable):
            raise serializers.ValidationError(
                _("Nothing to change: send at least one of %(fields)s.")
                % {"fields": ", ".join(changeable)},
                code="invalid",
            )
        if data.get("note") and not any(name in data for name in shipment_changes):
            # An estimate alone writes an event without a staff note.
            raise serializers.ValidationError(
                {
                    "note": [
                        _(
                            "A note goes with a change of %(fields)s; add it on "
                            "its own with the notes endpoint."
                        )
                        % {"fields": ", ".join(shipment_changes)}
                    ]
                },
                code="invalid",
            )
        return data


class TrackingLinksRevokedSerializer(serializers.Serializer):
    """The order's new tracking link version: links made before it lead nowhere."""

    number = serializers.CharField()
    tracking_link_version = serializers.IntegerField()


class NoteSerializer(serializers.Serializer):
    """A note on the timeline: for the customer if ``public``, else staff only.
    ``message``, as in ``add_note()`` and a status change."""

    message = serializers.CharField()
    public = serializers.BooleanField(required=False, default=False)
    notify = serializers.BooleanField(required=False, default=False)


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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A channel that needs consent is chosen only with it (given now, or
        before: the ``preference`` of the serializer's context), as the
        preferences page asks: saved without, it would silently do nothing."""
        from order_updates.notifications.channels import get_channels
        from order_updates.notifications.forms import consent_message

        preference = self.context.get("preference")
        consent = attrs.get("sms_consent")
        if consent is None:
            consent = preference is not None and preference.sms_consent_at is not None
        channels = attrs.get("channels", {})
        chosen = {name for names in channels.values() for name in names}
        needing = [
            channel
            for name, channel in get_channels().items()
            if channel.requires_consent and name in chosen
        ]
        if needing and not consent:
            raise serializers.ValidationError(
                {"sms_consent": [consent_message(needing)]}, code="consent_required"
            )
        return attrs

    def validate_timezone(self, value: str) -> str:
        import zoneinfo

        if value and value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(
                _("Unknown time zone “%(zone)s”.") % {"zone": value[:64]},
                code="unknown_timezone",
            )
        return value


class TrackingLookupSerializer(serializers.Serializer):
    """An order number and what only its customer knows: the order's email
    address, or its delivery postcode where the shop has one."""

    number = serializers.CharField(max_length=200, help_text=_("The order number."))
    email = serializers.CharField(
        max_length=254,
        required=False,
        allow_blank=True,
        help_text=_("The order's email address (any case)."),
    )
    postcode = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text=_("The delivery postcode, instead of the email address."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs.get("email") or attrs.get("postcode")):
            raise serializers.ValidationError(
                {"email": [_("Give the order's email address or delivery postcode.")]},
                code="required",
            )
        return attrs


class TrackingLookupResultSerializer(TrackingSerializer):
    """The tracking page's data, and the token of the order's tracking link."""

    token = serializers.CharField(
        help_text=_("For GET tracking/<token>/ later (a link's last path segment).")
    )


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
