"""The API's views: customer endpoints (their own orders) and staff endpoints
(changes through :mod:`order_updates.services`, guarded by model permissions).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, generics, permissions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from order_updates import services
from order_updates.api import errors, serializers
from order_updates.api.throttling import CustomerThrottle, StaffThrottle
from order_updates.core.adapter import get_adapter
from order_updates.models import Notification, OrderEvent, Shipment
from order_updates.notifications.delivery import resend

# Documented answers shared by the endpoints ----------------------------------------

ERROR = serializers.ErrorSerializer
NOT_FOUND = OpenApiResponse(
    ERROR,
    description=_("No such order, or not one of yours."),
    examples=[
        OpenApiExample(
            "not found",
            value={"detail": "No such order.", "code": "not_found"},
            status_codes=["404"],
        )
    ],
)
VALIDATION = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=_("Invalid input: field name → messages (DRF's shape)."),
    examples=[
        OpenApiExample(
            "invalid",
            value={"status": ["This field is required."]},
            status_codes=["400"],
        )
    ],
)
PAGE = OpenApiResponse(
    ERROR,
    description=_("No such page."),
    examples=[
        OpenApiExample(
            "no such page",
            value={"detail": "Invalid page.", "code": "not_found"},
            status_codes=["404"],
        )
    ],
)
AUTH = {
    401: OpenApiResponse(ERROR, description=_("Not logged in.")),
    403: OpenApiResponse(ERROR, description=_("Not allowed.")),
    429: OpenApiResponse(ERROR, description=_("Too many requests (throttled).")),
}
NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description=_("The order number.")
)

EVENT_EXAMPLE = {
    "sequence": 3,
    "kind": "status_changed",
    "kind_label": "Status changed",
    "from_status": {
        "code": "processing",
        "label": "Processing",
        "description": "We are preparing your order.",
        "stage": "processing",
        "terminal": False,
    },
    "to_status": {
        "code": "shipped",
        "label": "Shipped",
        "description": "Your order is on its way.",
        "stage": "shipped",
        "terminal": False,
    },
    "message": "On its way!",
    "created_at": "2026-03-04T10:15:00Z",
}
STATUS_EXAMPLE = EVENT_EXAMPLE["to_status"]
NOTIFICATION_EXAMPLE = {
    "id": 311,
    "type": "order_shipped",
    "channel": "email",
    "recipient": "ada@example.com",
    "state": "failed",
    "attempts": 6,
    "last_error": "TransientChannelError: 451 try again later",
    "reason": "",
    "created_at": "2026-03-04T10:15:00Z",
    "sent_at": None,
    "delivered_at": None,
}


class Schema(AutoSchema):
    """drf-spectacular's schema, with each view's ``operation_id``."""

    def get_operation_id(self) -> str:
        name = getattr(self.view, "operation_id", None)
        if name and self._many_methods():
            return "%s_%s" % (name, self.method.lower())
        return name or super().get_operation_id()

    def _many_methods(self) -> bool:
        handlers = {"get", "post", "put", "patch", "delete"}
        return sum(hasattr(self.view, method) for method in handlers) > 1

    def get_request_serializer(self) -> Any:
        per_method = getattr(self.view, "request_serializers", {})
        if self.method in per_method:
            return per_method[self.method]
        return super().get_request_serializer()


class BaseView(APIView):
    """What every endpoint shares: the schema, the error handler, throttling."""

    schema = Schema()
    #: The OpenAPI operation's id.
    operation_id: str | None = None
    throttle_classes = [CustomerThrottle]

    def get_exception_handler(self) -> Any:
        return errors.handle


class Pagination(PageNumberPagination):
    """20 per page; ``page_size`` up to 100."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# Customers --------------------------------------------------------------------------


def order_by_number(number: str) -> Any:
    """The order with this number (any customer's); 404 otherwise."""
    # Text a database column cannot hold (NUL characters) names no order.
    order = None if "\x00" in number else get_adapter().get_order_by_number(number)
    if order is None:
        raise errors.OrderNotFound()
    return order


def customer_order(request: Request, number: str) -> Any:
    """One of the user's orders by its number, with its state; 404 otherwise
    (whether it does not exist or is someone else's)."""
    adapter = get_adapter()
    order = order_by_number(number)
    mine = (
        adapter.get_orders_for_user(request.user)
        .filter(pk=order.pk)
        .select_related("order_updates_state")
        .first()
    )
    if mine is None:
        raise errors.OrderNotFound()
    return mine


@extend_schema(
    tags=["customer"],
    summary=_("My orders"),
    parameters=[
        OpenApiParameter(
            "status", str, description=_("Only orders in this status (a code).")
        )
    ],
    responses={200: serializers.OrderSerializer(many=True), 404: PAGE, **AUTH},
    examples=[
        OpenApiExample(
            "a page",
            value={
                "count": 1,
                "next": None,
                "previous": None,
                "results": [
                    {
                        "number": "1042",
                        "status": STATUS_EXAMPLE,
                        "status_changed_at": "2026-03-04T10:15:00Z",
                    }
                ],
            },
            response_only=True,
        )
    ],
)
class OrderListView(BaseView, generics.ListAPIView):
    """The logged-in customer's orders, newest first, with their status."""

    operation_id = "list_my_orders"

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = serializers.OrderSerializer
    pagination_class = Pagination

    def get_queryset(self) -> Any:
        orders = (
            get_adapter()
            .get_orders_for_user(self.request.user)
            .select_related("order_updates_state")
            .order_by("-pk")
        )
        code = self.request.query_params.get("status")
        if code and "\x00" in code:
            orders = orders.none()  # no status holds a NUL character
        elif code:
            orders = orders.filter(order_updates_state__status=code)
        return orders


@extend_schema(
    tags=["customer"],
    summary=_("One of my orders"),
    parameters=[NUMBER],
    responses={200: serializers.OrderDetailSerializer, 404: NOT_FOUND, **AUTH},
    examples=[
        OpenApiExample(
            "shipped",
            value={
                "number": "1042",
                "status": STATUS_EXAMPLE,
                "status_changed_at": "2026-03-04T10:15:00Z",
                "timeline": [EVENT_EXAMPLE],
                "shipments": [
                    {
                        "id": 7,
                        "carrier": "ups",
                        "tracking_number": "1Z999AA10123456784",
                        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                        "shipped_at": "2026-03-04T10:15:00Z",
                    }
                ],
            },
            response_only=True,
        )
    ],
)
class OrderDetailView(BaseView):
    """One of the customer's orders: status, timeline (what they may see) and
    shipments. Another customer's order answers 404, as a missing one does."""

    operation_id = "get_my_order"

    permission_classes = [permissions.IsAuthenticated]

    def get(self, request: Request, number: str) -> Response:
        order = customer_order(request, number)
        context = {
            "events": list(OrderEvent.objects.filter(order_id=order.pk)),
            "shipments": list(Shipment.objects.filter(order_id=order.pk)),
        }
        return Response(serializers.OrderDetailSerializer(order, context=context).data)


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
        data = _validated(serializers.StatusChangeSerializer, request)
        event = services.set_status(
            order,
            data["status"],
            actor=request.user,
            message=data["message"],
            note=data["note"],
            notify=data["notify"],
        )
        current = services.get_status(order)
        return Response(
            {
                "number": get_adapter().get_number(order),
                "status": serializers.status_data(current.code if current else None),
                "event": serializers.StaffEventSerializer(event).data
                if event
                else None,
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
        data = _validated(serializers.BulkStatusChangeSerializer, request)
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
        for number in data["orders"]:
            order = orders.get(number)
            if order is None:
                items.append({"number": number, "result": "not_found", "reason": ""})
            elif order.pk in changed:
                items.append({"number": number, "result": "changed", "reason": ""})
            else:
                reason = str(result.skipped.get(order.pk, ""))
                items.append({"number": number, "result": "skipped", "reason": reason})
        counts = {
            kind: sum(1 for item in items if item["result"] == kind)
            for kind in ("changed", "skipped", "not_found")
        }
        return Response({**counts, "results": items})


@extend_schema(
    tags=["staff"],
    summary=_("Add a shipment"),
    parameters=[NUMBER],
    request=serializers.ShipmentCreateSerializer,
    responses={
        201: serializers.ShipmentSerializer,
        404: NOT_FOUND,
        **STATUS_ERRORS,
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "shipped with UPS",
            value={
                "carrier": "ups",
                "tracking_number": "1Z999AA10123456784",
                "status": "shipped",
            },
            request_only=True,
        ),
        OpenApiExample(
            "recorded",
            value={
                "id": 7,
                "carrier": "ups",
                "tracking_number": "1Z999AA10123456784",
                "tracking_url": "",
                "shipped_at": "2026-03-04T10:15:00Z",
            },
            response_only=True,
            status_codes=["201"],
        ),
    ],
)
class ShipmentCreateView(StaffView):
    """Record a shipment; with ``status``, the order moves too
    (``order_updates.add_shipment``)."""

    operation_id = "add_shipment"

    required_permissions = ("order_updates.add_shipment",)

    def post(self, request: Request, number: str) -> Response:
        order = self.get_order(number)
        data = _validated(serializers.ShipmentCreateSerializer, request)
        shipment = services.add_shipment(order, actor=request.user, **data)
        return Response(
            serializers.ShipmentSerializer(shipment).data,
            status=status.HTTP_201_CREATED,
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
            value={"text": "Customer called about the address."},
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
        data = _validated(serializers.NoteSerializer, request)
        event = services.add_note(
            order,
            data["text"],
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
        OpenApiExample(
            "a page",
            value={
                "count": 1,
                "next": None,
                "previous": None,
                "results": [NOTIFICATION_EXAMPLE],
            },
            response_only=True,
        )
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


def _validated(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# The customer's choices ---------------------------------------------------------------


def _preferences_data(preference: Any) -> dict[str, Any]:
    from order_updates.notifications.channels import get_channels
    from order_updates.notifications.preferences import wanted_channels
    from order_updates.notifications.types import CATEGORIES

    channels = list(get_channels().values())
    return {
        "channels": {
            category: wanted_channels(preference, category, channels)
            for category in CATEGORIES
        },
        "sms_consent": preference.sms_consent_at is not None,
        "timezone": preference.timezone,
    }


PREFERENCES_EXAMPLE = {
    "channels": {"order": ["email"], "shipping": ["email", "sms"]},
    "sms_consent": True,
    "timezone": "Europe/Berlin",
}


@extend_schema(
    tags=["customer"],
    summary=_("My notification preferences"),
    responses={200: serializers.PreferencesSerializer, 400: VALIDATION, **AUTH},
    examples=[
        OpenApiExample("preferences", value=PREFERENCES_EXAMPLE),
    ],
)
class PreferencesView(BaseView):
    """GET the customer's choices; PATCH changes the fields sent (a channel that
    needs consent, such as SMS, is sent only with ``sms_consent``)."""

    operation_id = "preferences"
    request_serializers = {"PATCH": serializers.PreferencesSerializer}
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "patch", "options"]

    def get(self, request: Request) -> Response:
        from order_updates.notifications.preferences import preference_for

        return Response(_preferences_data(preference_for(user=request.user)))

    def patch(self, request: Request) -> Response:
        from order_updates.notifications.preferences import (
            preference_for,
            save_choices,
        )

        serializer = serializers.PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preference = save_choices(
            preference_for(user=request.user),
            channels=data.get("channels"),
            sms_consent=data.get("sms_consent"),
            timezone_name=data.get("timezone"),
        )
        return Response(_preferences_data(preference))


@extend_schema(
    tags=["customer"],
    summary=_("Register a browser's push subscription"),
    request=serializers.PushSubscriptionSerializer,
    responses={
        200: serializers.PushSubscribedSerializer,
        201: serializers.PushSubscribedSerializer,
        400: VALIDATION,
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "PushSubscription.toJSON()",
            value={
                "endpoint": "https://fcm.googleapis.com/fcm/send/dpH5lCsTSSM:APA91b",
                "keys": {
                    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg"
                    "7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                    "auth": "tBHItJI5svbpez7KI4CCXg",
                },
            },
            request_only=True,
        ),
        OpenApiExample(
            "stored", value={"id": 12}, response_only=True, status_codes=["201"]
        ),
    ],
)
class PushSubscriptionsView(BaseView):
    """Store the browser's subscription for the customer (201 new, 200 updated)."""

    operation_id = "register_push_subscription"
    permission_classes = [permissions.IsAuthenticated]

    def post(self, request: Request) -> Response:
        from order_updates.exceptions import InvalidPushSubscription
        from order_updates.notifications.channels.push.subscriptions import (
            parse_subscription,
            save_subscription,
        )

        try:
            info = parse_subscription(request.data)
        except InvalidPushSubscription as exc:
            raise exceptions.ValidationError(
                {exc.field or "non_field_errors": [str(exc)]}, code="invalid"
            ) from exc
        subscription, created = save_subscription(
            info,
            user=request.user,
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(
            {"id": subscription.pk},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(
    tags=["customer"],
    summary=_("Drop a browser's push subscription"),
    request=serializers.PushEndpointSerializer,
    responses={
        204: OpenApiResponse(description=_("Dropped.")),
        400: VALIDATION,
        404: OpenApiResponse(
            ERROR,
            description=_("No such subscription of yours."),
            examples=[
                OpenApiExample(
                    "not yours",
                    value={
                        "detail": "No such push subscription of yours.",
                        "code": "not_found",
                    },
                    status_codes=["404"],
                )
            ],
        ),
        **AUTH,
    },
    examples=[
        OpenApiExample(
            "endpoint",
            value={
                "endpoint": "https://fcm.googleapis.com/fcm/send/dpH5lCsTSSM:APA91b"
            },
            request_only=True,
        ),
    ],
)
class PushSubscriptionDeleteView(BaseView):
    """Drop one of the customer's push subscriptions, by its endpoint."""

    operation_id = "drop_push_subscription"
    permission_classes = [permissions.IsAuthenticated]

    def post(self, request: Request) -> Response:
        from order_updates.notifications.channels.push.subscriptions import (
            remove_subscription,
        )

        serializer = serializers.PushEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not remove_subscription(
            serializer.validated_data["endpoint"], user=request.user
        ):
            raise errors.SubscriptionNotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)
