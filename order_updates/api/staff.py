"""Staff endpoints: changes through :mod:`order_updates.services`, each
guarded by a model permission, and the notification log with re-send.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response

from order_updates import services
from order_updates.api import errors, serializers
from order_updates.api.base import (
    AUTH,
    ERROR,
    EVENT_EXAMPLE,
    NOT_FOUND,
    NOTIFICATION_EXAMPLE,
    NUMBER,
    SHIPMENT_DETAIL_EXAMPLE,
    SHIPMENT_EXAMPLE,
    STATUS_EXAMPLE,
    VALIDATION,
    BaseView,
    Pagination,
    checked_carrier,
    order_by_number,
    validated,
)
from order_updates.api.throttling import StaffThrottle
from order_updates.core.adapter import get_adapter
from order_updates.models import Notification, Shipment
from order_updates.notifications.delivery import resend

# Staff -------------------------------------------------------------------------------


class HasModelPermissions(permissions.BasePermission):
    """The user has every permission the view's ``required_permissions`` names."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user.has_perms(view.required_permissions)
        )


class StaffView(BaseView):
    """A staff endpoint: model permissions, the staff's throttle rate."""

    permission_classes = [HasModelPermissions]
    throttle_classes = [StaffThrottle]
    required_permissions: tuple[str, ...] = ()

    def get_order(self, number: str) -> Any:
        return order_by_number(number)


STATUS_ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description=_(
            "Invalid input (DRF's field → messages shape), or an unknown status "
            '(``{"detail": …, "code": "unknown_status"}``).'
        ),
        examples=[
            OpenApiExample(
                "unknown status",
                value={
                    "detail": "Unknown order status 'shiped'.",
                    "code": "unknown_status",
                },
                status_codes=["400"],
            )
        ],
    ),
    409: OpenApiResponse(
        ERROR,
        description=_("The pipeline does not allow this change."),
        examples=[
            OpenApiExample(
                "invalid transition",
                value={
                    "detail": "Cannot move an order from 'delivered' to 'shipped'.",
                    "code": "invalid_transition",
                },
                status_codes=["409"],
            )
        ],
    ),
}


@extend_schema(
    tags=["staff"],
    summary=_("Change an order's status"),
    parameters=[NUMBER],
    request=serializers.StatusChangeSerializer,
    responses={
        200: serializers.StatusChangedSerializer,
        404: NOT_FOUND,
        **STATUS_ERRORS,
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "ship",
            value={"status": "shipped", "message": "On its way!", "notify": True},
            request_only=True,
        ),
        OpenApiExample(
            "changed",
            value={
                "number": "1042",
                "status": STATUS_EXAMPLE,
                "event": {**EVENT_EXAMPLE, "note": "", "actor": "mia", "data": {}},
                "notifications": [NOTIFICATION_EXAMPLE],
            },
            response_only=True,
        ),
    ],
)
class StatusChangeView(StaffView):
    """Move the order to a status (``order_updates.change_orderstate``)."""

    operation_id = "change_status"

    required_permissions = ("order_updates.change_orderstate",)

    def post(self, request: Request, number: str) -> Response:
        order = self.get_order(number)
        data = validated(serializers.StatusChangeSerializer, request)
        event = services.set_status(
            order,
            data["status"],
            actor=request.user,
            message=data["message"],
            note=data["note"],
            notify=data["notify"],
        )
        current = services.get_status(order)
        queued = Notification.objects.filter(event=event) if event else []
        return Response(
            {
                "number": get_adapter().get_number(order),
                "status": serializers.status_data(current.code if current else None),
                "event": serializers.StaffEventSerializer(event).data
                if event
                else None,
                "notifications": serializers.NotificationSerializer(
                    queued, many=True
                ).data,
            }
        )


@extend_schema(
    tags=["staff"],
    summary=_("Change many orders' status"),
    request=serializers.BulkStatusChangeSerializer,
    responses={200: serializers.BulkResultSerializer, **STATUS_ERRORS, **AUTH},
    examples=[
        OpenApiExample(
            "ship three",
            value={"orders": ["1042", "1043", "9999"], "status": "shipped"},
            request_only=True,
        ),
        OpenApiExample(
            "results",
            value={
                "changed": 1,
                "skipped": 1,
                "not_found": 1,
                "results": [
                    {"number": "1042", "result": "changed", "reason": ""},
                    {
                        "number": "1043",
                        "result": "skipped",
                        "reason": "Already shipped.",
                    },
                    {"number": "9999", "result": "not_found", "reason": ""},
                ],
            },
            response_only=True,
        ),
    ],
)
class BulkStatusChangeView(StaffView):
    """Move up to ``API_BULK_MAX_ORDERS`` orders at once, set-based; each
    order's result in the order given (``order_updates.change_orderstate``)."""

    operation_id = "bulk_change_status"

    required_permissions = ("order_updates.change_orderstate",)

    def post(self, request: Request) -> Response:
        data = validated(serializers.BulkStatusChangeSerializer, request)
        adapter = get_adapter()
        orders = {
            adapter.get_number(order): order
            for order in adapter.get_orders_by_number(data["orders"])
        }
        result = services.bulk_set_status(
            list(orders.values()),
            data["status"],
            actor=request.user,
            message=data["message"],
            note=data["note"],
            notify=data["notify"],
        )
        changed = set(result.changed)
        items = []
        given: set[Any] = set()
        for number in data["orders"]:
            order = orders.get(number)
            if order is None:
                items.append({"number": number, "result": "not_found", "reason": ""})
            elif order.pk in given:
                # One result per entry, so a client can pair them by position;
                # the order itself changed (or not) once, at its first entry.
                reason = str(_("The order is given earlier in this request."))
                items.append({"number": number, "result": "skipped", "reason": reason})
            elif order.pk in changed:
                items.append({"number": number, "result": "changed", "reason": ""})
            else:
                reason = str(result.skipped.get(order.pk, ""))
                items.append({"number": number, "result": "skipped", "reason": reason})
            if order is not None:
                given.add(order.pk)
        counts = {
            kind: sum(1 for item in items if item["result"] == kind)
            for kind in ("changed", "skipped", "not_found")
        }
        return Response({**counts, "results": items})


UNKNOWN_CARRIER = OpenApiExample(
    "unknown carrier",
    value={
        "detail": "Unknown carrier “upz”. Use a code of the carrier registry, or "
        "leave carrier empty and give carrier_name.",
        "code": "unknown_carrier",
    },
    status_codes=["400"],
)


def _estimate(data: dict[str, Any]) -> tuple[Any, Any] | None:
    estimate = data.pop("estimated_delivery", None)
    return (estimate["earliest"], estimate["latest"]) if estimate else None


def _shipment_answer(shipment: Shipment, code: int = status.HTTP_200_OK) -> Response:
    (row,) = serializers.shipments_with_scans(Shipment.objects.filter(pk=shipment.pk))
    return Response(serializers.ShipmentDetailSerializer(row).data, status=code)


@extend_schema(
    tags=["staff"],
    summary=_("Add a shipment"),
    parameters=[NUMBER],
    request=serializers.ShipmentCreateSerializer,
    responses={
        201: serializers.ShipmentDetailSerializer,
        404: NOT_FOUND,
        **STATUS_ERRORS,
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "shipped with UPS",
            value={
                "carrier": "ups",
                "service": "express",
                "tracking_number": "1Z999AA10123456784",
                "more_tracking_numbers": ["1Z999AA10123456795"],
                "items": [{"line": "17", "quantity": 2}],
                "estimated_delivery": {
                    "earliest": "2026-03-06",
                    "latest": "2026-03-07",
                },
                "status": "shipped",
            },
            request_only=True,
        ),
        OpenApiExample(
            "a carrier without a code",
            value={
                "carrier_name": "Fahrradkurier Müller",
                "tracking_number": "M-17",
                "tracking_url": "https://kurier.example.com/t/M-17",
            },
            request_only=True,
        ),
        OpenApiExample(
            "recorded",
            value={**SHIPMENT_EXAMPLE, "tracking_status": "pending", "scans": []},
            response_only=True,
            status_codes=["201"],
        ),
        UNKNOWN_CARRIER,
    ],
)
class ShipmentCreateView(StaffView):
    """Record a shipment; with ``status``, the order moves too
    (``order_updates.add_shipment``)."""

    operation_id = "add_shipment"

    required_permissions = ("order_updates.add_shipment",)

    def post(self, request: Request, number: str) -> Response:
        order = self.get_order(number)
        data = dict(validated(serializers.ShipmentCreateSerializer, request))
        checked_carrier(data["carrier"])
        shipment = services.add_shipment(
            order,
            actor=request.user,
            estimated_delivery=_estimate(data),
            **data,
        )
        return _shipment_answer(shipment, status.HTTP_201_CREATED)


SHIPMENT_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description=_("The shipment's id.")
)


@extend_schema(
    tags=["staff"],
    summary=_("Update a shipment"),
    parameters=[NUMBER, SHIPMENT_ID],
    request=serializers.ShipmentUpdateSerializer,
    responses={
        200: serializers.ShipmentDetailSerializer,
        400: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description=_(
                "Invalid input (DRF's field → messages shape), or a carrier code "
                'the registry does not know (``{"detail": …, "code": '
                '"unknown_carrier"}``).'
            ),
            examples=[UNKNOWN_CARRIER],
        ),
        404: OpenApiResponse(
            ERROR, description=_("No such order, or no such shipment of it.")
        ),
        409: STATUS_ERRORS[409],
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "a corrected number",
            value={"tracking_number": "1Z999AA10123456802", "notify": False},
            request_only=True,
        ),
        OpenApiExample(
            "a later estimate",
            value={
                "estimated_delivery": {"earliest": "2026-03-09"},
                "message": "The storm delays all parcels by two days.",
            },
            request_only=True,
        ),
        OpenApiExample("updated", value=SHIPMENT_DETAIL_EXAMPLE, response_only=True),
    ],
)
class ShipmentUpdateView(StaffView):
    """Change what is sent: carrier, carrier name, service, tracking numbers,
    link, shipped time, the lines in the parcel (``update_shipment()``) and the
    estimated delivery (``set_estimated_delivery()``), in one transaction
    (``order_updates.change_shipment``)."""

    operation_id = "update_shipment"
    http_method_names = ["patch", "options"]

    required_permissions = ("order_updates.change_shipment",)

    def patch(self, request: Request, number: str, id: str) -> Response:
        order = self.get_order(number)
        pk = int(id) if id.isdigit() and len(id) < 19 else None
        shipment = (
            Shipment.objects.filter(order_id=order.pk, pk=pk).first() if pk else None
        )
        if shipment is None:
            raise errors.ShipmentNotFound()
        data = dict(validated(serializers.ShipmentUpdateSerializer, request))
        checked_carrier(data.get("carrier", ""))
        estimate = _estimate(data)
        told = {name: data.pop(name) for name in ("message", "note", "notify")}
        with transaction.atomic():
            event = None
            if data:
                event = services.update_shipment(
                    shipment, actor=request.user, **told, **data
                )
            if estimate is not None:
                services.set_estimated_delivery(
                    shipment,
                    *estimate,
                    actor=request.user,
                    # The update's event carries the message when there is one.
                    message="" if event is not None else told["message"],
                    notify=told["notify"],
                )
        return _shipment_answer(shipment)


@extend_schema(
    tags=["staff"],
    summary=_("Revoke an order's tracking links"),
    parameters=[NUMBER],
    request=None,
    responses={
        200: serializers.TrackingLinksRevokedSerializer,
        404: NOT_FOUND,
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "revoked",
            value={"number": "1042", "tracking_link_version": 2},
            response_only=True,
        )
    ],
)
class TrackingLinksRevokeView(StaffView):
    """Make every tracking link of the order sent so far lead nowhere (404);
    links made from now on work (``revoke_tracking_links()``,
    ``order_updates.change_orderstate``). An untracked order has no links:
    its version stays 0."""

    operation_id = "revoke_tracking_links"

    required_permissions = ("order_updates.change_orderstate",)

    def post(self, request: Request, number: str) -> Response:
        order = self.get_order(number)
        version = services.revoke_tracking_links(order)
        return Response(
            {
                "number": get_adapter().get_number(order),
                "tracking_link_version": version,
            }
        )


@extend_schema(
    tags=["staff"],
    summary=_("Add a note"),
    parameters=[NUMBER],
    request=serializers.NoteSerializer,
    responses={
        201: serializers.StaffEventSerializer,
        400: VALIDATION,
        404: NOT_FOUND,
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "internal",
            value={"message": "Customer called about the address."},
            request_only=True,
        ),
        OpenApiExample(
            "added",
            value={
                "sequence": 4,
                "kind": "note",
                "kind_label": "Note",
                "from_status": None,
                "to_status": None,
                "message": "",
                "created_at": "2026-03-04T10:15:00Z",
                "note": "Customer called about the address.",
                "actor": "mia",
                "data": {},
            },
            response_only=True,
            status_codes=["201"],
        ),
    ],
)
class NoteCreateView(StaffView):
    """Add a note to the timeline; ``public`` ones the customer sees
    (``order_updates.add_orderevent``)."""

    operation_id = "add_note"

    required_permissions = ("order_updates.add_orderevent",)

    def post(self, request: Request, number: str) -> Response:
        order = self.get_order(number)
        data = validated(serializers.NoteSerializer, request)
        event = services.add_note(
            order,
            data["message"],
            public=data["public"],
            notify=data["notify"],
            actor=request.user,
        )
        return Response(
            serializers.StaffEventSerializer(event).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(
    tags=["staff"],
    summary=_("An order's notifications"),
    parameters=[NUMBER],
    responses={
        200: serializers.NotificationSerializer(many=True),
        404: OpenApiResponse(ERROR, description=_("No such order, or no such page.")),
        **AUTH,
    },
    examples=[
        # One notification: drf-spectacular puts it in a page.
        OpenApiExample("a page", value=NOTIFICATION_EXAMPLE, response_only=True)
    ],
)
class NotificationListView(StaffView, generics.ListAPIView):
    """Every message about the order, newest first
    (``order_updates.view_notification``)."""

    operation_id = "list_notifications"

    required_permissions = ("order_updates.view_notification",)
    serializer_class = serializers.NotificationSerializer
    pagination_class = Pagination

    def get_queryset(self) -> Any:
        order = self.get_order(self.kwargs["number"])
        return Notification.objects.filter(order_id=order.pk).order_by(
            "-created_at", "-pk"
        )


@extend_schema(
    tags=["staff"],
    summary=_("Send a notification again"),
    request=None,
    parameters=[
        OpenApiParameter(
            "id",
            int,
            OpenApiParameter.PATH,
            description=_("The notification's id."),
        )
    ],
    responses={
        202: serializers.NotificationSerializer,
        404: OpenApiResponse(ERROR, description=_("No such notification.")),
        409: OpenApiResponse(
            ERROR,
            description=_("It is pending, being sent, or was sent fine."),
            examples=[
                OpenApiExample(
                    "not resendable",
                    value={
                        "detail": "Only failed, bounced, suppressed or skipped "
                        "notifications can be re-sent.",
                        "code": "not_resendable",
                    },
                    status_codes=["409"],
                )
            ],
        ),
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "queued",
            value={
                **NOTIFICATION_EXAMPLE,
                "state": "pending",
                "attempts": 0,
            },
            response_only=True,
            status_codes=["202"],
        )
    ],
)
class NotificationResendView(StaffView):
    """Queue a failed, bounced, suppressed or skipped notification again
    (``order_updates.change_notification``)."""

    operation_id = "resend_notification"

    required_permissions = ("order_updates.change_notification",)

    def post(self, request: Request, id: str) -> Response:
        # Any text reaches here (a 404 in JSON, not Django's HTML one).
        pk = int(id) if id.isdigit() and len(id) < 19 else None
        notification = Notification.objects.filter(pk=pk).first() if pk else None
        if notification is None:
            raise errors.NotificationNotFound()
        if not resend(notification):
            raise errors.NotResendable()
        notification.refresh_from_db()
        return Response(
            serializers.NotificationSerializer(notification).data,
            status=status.HTTP_202_ACCEPTED,
        )
