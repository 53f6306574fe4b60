"""Customer endpoints: the user's own orders (through the adapter; anyone
else's answer 404), their notification preferences and push subscriptions.
"""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response

from order_updates.api import errors, serializers
from order_updates.api.base import (
    AUTH,
    ERROR,
    EVENT_EXAMPLE,
    NOT_FOUND,
    NUMBER,
    PAGE,
    SHIPMENT_DETAIL_EXAMPLE,
    STATUS_EXAMPLE,
    VALIDATION,
    BaseView,
    Pagination,
    order_by_number,
    validated,
)
from order_updates.core.adapter import get_adapter
from order_updates.models import OrderEvent, Shipment
from order_updates.notifications.links import order_for_tracking_token
from order_updates.notifications.views import private_page
from order_updates.pipeline import get_pipeline


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
    responses={
        200: serializers.OrderSerializer(many=True),
        400: OpenApiResponse(
            ERROR,
            description=_("``?status=`` names no status of the pipeline."),
            examples=[
                OpenApiExample(
                    "unknown status",
                    value={
                        "detail": "Unknown order status 'shiped'. Known "
                        "statuses: placed, confirmed, shipped.",
                        "code": "unknown_status",
                    },
                    status_codes=["400"],
                )
            ],
        ),
        404: PAGE,
        **AUTH,
    },
    examples=[
        # One order: drf-spectacular puts it in a page (Pagination's example).
        OpenApiExample(
            "a page",
            value={
                "number": "1042",
                "status": STATUS_EXAMPLE,
                "status_changed_at": "2026-03-04T10:15:00Z",
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
        adapter = get_adapter()
        mine = adapter.get_orders_for_user(self.request.user)
        orders = adapter.newest_first(adapter.get_page_queryset(mine))
        code = self.request.query_params.get("status")
        if code:
            # A typo must not look like "no orders": unknown_status (400).
            get_pipeline().get(code)
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
                "shipments": [SHIPMENT_DETAIL_EXAMPLE],
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
            "shipments": serializers.shipments_with_scans(
                Shipment.objects.filter(order_id=order.pk)
            ),
        }
        return Response(serializers.OrderDetailSerializer(order, context=context).data)


TRACKING_EXAMPLE = {
    "number": "1042",
    "status": STATUS_EXAMPLE,
    "progress": {
        "steps": [
            {"code": "placed", "label": "Ordered", "state": "done"},
            {"code": "processing", "label": "Preparing", "state": "done"},
            {"code": "shipped", "label": "On its way", "state": "current"},
            {
                "code": "out_for_delivery",
                "label": "Out for delivery",
                "state": "upcoming",
            },
            {"code": "delivered", "label": "Delivered", "state": "upcoming"},
        ],
        "percent": 60,
        "off_path": False,
        "completed": False,
    },
    "timeline": [
        {
            "kind": "status_changed",
            "at": "2026-03-04T10:15:00Z",
            "title": "Shipped",
            "message": "On its way!",
            "status": "shipped",
            "problem": False,
        }
    ],
    "shipments": [SHIPMENT_DETAIL_EXAMPLE],
}


@extend_schema(
    tags=["customer"],
    summary=_("Public tracking by signed link"),
    auth=[],
    parameters=[
        OpenApiParameter(
            "token",
            str,
            OpenApiParameter.PATH,
            description=_("The token of a tracking link (its last path segment)."),
        )
    ],
    responses={
        200: serializers.TrackingSerializer,
        404: OpenApiResponse(
            ERROR,
            description=_("The link was tampered with, has expired or was revoked."),
            examples=[
                OpenApiExample(
                    "not valid",
                    value={
                        "detail": "This tracking link is not valid.",
                        "code": "not_found",
                    },
                    status_codes=["404"],
                )
            ],
        ),
        429: AUTH[429],
    },
    examples=[OpenApiExample("on its way", value=TRACKING_EXAMPLE, response_only=True)],
)
@method_decorator(private_page, name="dispatch")
class TrackingView(BaseView):
    """What the public tracking page shows, for the token of a signed tracking
    link, without a login: status, progress, timeline, shipments with their
    scans; no name, address, email or items. A tampered, expired or revoked
    link answers 404. As the page: never cached, never indexed."""

    operation_id = "track_order"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    def get(self, request: Request, token: str) -> Response:
        from order_updates.customer.data import order_detail

        order = order_for_tracking_token(token)
        if order is None:
            raise errors.TrackingLinkNotFound()
        detail = order_detail(order, items=False)
        return Response(serializers.TrackingSerializer(detail).data)


@extend_schema(
    tags=["customer"],
    summary=_("Public tracking by order number and email"),
    auth=[],
    request=serializers.TrackingLookupSerializer,
    responses={
        200: serializers.TrackingLookupResultSerializer,
        400: VALIDATION,
        404: OpenApiResponse(
            ERROR,
            description=_(
                "No tracked order has this number with this email address (or "
                "postcode): the same answer whether the number exists or not."
            ),
            examples=[
                OpenApiExample(
                    "no match",
                    value={
                        "detail": "No order matches this number and email address.",
                        "code": "not_found",
                    },
                    status_codes=["404"],
                )
            ],
        ),
        429: OpenApiResponse(
            ERROR,
            description=_(
                "Too many attempts from this address or for this number "
                "(LOOKUP_MAX_ATTEMPTS_PER_IP, LOOKUP_MAX_ATTEMPTS_PER_ORDER, shared "
                "with the lookup page); Retry-After says when to try again."
            ),
        ),
    },
    examples=[
        OpenApiExample(
            "number and email",
            value={"number": "1042", "email": "ada@example.com"},
            request_only=True,
        ),
        OpenApiExample(
            "found",
            value={**TRACKING_EXAMPLE, "token": "Gs.0.1Tq8Xc.dGhpcyBpcyBhIHNpZw"},
            response_only=True,
        ),
    ],
)
@method_decorator(private_page, name="dispatch")
class TrackingLookupView(BaseView):
    """The lookup page for apps: a guest gives the order number and the order's
    email address (or delivery postcode) and gets what the tracking page shows,
    with the token of its signed link. A wrong answer gets the same 404 whether
    or not the order exists; attempts are limited as on the page, with the same
    counters."""

    operation_id = "find_order_to_track"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    def post(self, request: Request) -> Response:
        from order_updates.customer.data import link_version, order_detail
        from order_updates.customer.lookup import LookupRateLimit, find_order
        from order_updates.notifications.links import make_tracking_token

        data = validated(serializers.TrackingLookupSerializer, request)
        limit = LookupRateLimit().hit(request, data["number"])
        if not limit.allowed:
            raise exceptions.Throttled(wait=limit.retry_after)
        found = find_order(data["number"], data.get("email") or data["postcode"])
        version = link_version(found) if found is not None else None
        if found is None or version is None:
            raise errors.LookupNotFound()
        token = make_tracking_token(found.pk, version)
        # The order as the tracking page reads it (its relations joined).
        order = get_adapter().get_page_queryset().get(pk=found.pk)
        detail = order_detail(order, items=False)
        return Response({"token": token, **serializers.TrackingSerializer(detail).data})


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

        preference = preference_for(user=request.user)
        serializer = serializers.PreferencesSerializer(
            data=request.data, context={"preference": preference}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preference = save_choices(
            preference,
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
