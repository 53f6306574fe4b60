"""What the API's endpoints share: the schema class, the base view, pagination,
the documented answers and examples, and looking orders up by number.
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
)
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.views import APIView

from order_updates.api import errors, serializers
from order_updates.api.throttling import CustomerThrottle
from order_updates.core.adapter import get_adapter

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
SHIPMENT_EXAMPLE = {
    "id": 7,
    "carrier": "ups",
    "carrier_name": "UPS",
    "service": "express",
    "tracking_number": "1Z999AA10123456784",
    "tracking_numbers": ["1Z999AA10123456784", "1Z999AA10123456795"],
    "tracking_url": "https://www.ups.com/track?loc=en_US&tracknum=1Z999AA10123456784",
    "items": [{"line": "17", "quantity": 2}],
    "tracking_status": "in_transit",
    "tracking_status_label": "In transit",
    "tracking_substatus": "",
    "tracking_substatus_label": "",
    "estimated_delivery": {"earliest": "2026-03-06", "latest": "2026-03-07"},
    "shipped_at": "2026-03-04T10:15:00Z",
    "delivered_at": None,
}
SCAN_EXAMPLE = {
    "occurred_at": "2026-03-05T07:58:00Z",
    "status": "in_transit",
    "status_label": "In transit",
    "substatus": "",
    "substatus_label": "",
    "location": "Leipzig",
    "message": "Departed the hub",
}
SHIPMENT_DETAIL_EXAMPLE = {**SHIPMENT_EXAMPLE, "scans": [SCAN_EXAMPLE]}
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
    """What every endpoint shares: the schema, JSON bodies, the error handler,
    throttling."""

    schema = Schema()
    #: Request bodies are JSON (415 otherwise), so the schema documents one
    #: media type per operation, whatever the project's DEFAULT_PARSER_CLASSES.
    parser_classes = [JSONParser]
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

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """DRF's schema of a page, with examples of one whole page (the schema
        examples put one item in it) instead of DRF's placeholder links."""
        page = super().get_paginated_response_schema(schema)
        examples = {"count": 1, "next": None, "previous": None}
        for name, example in examples.items():
            page["properties"][name]["example"] = example
        return page


def order_by_number(number: str) -> Any:
    """The order with this number (any customer's); 404 otherwise."""
    # Text a database column cannot hold (NUL characters) names no order.
    order = None if "\x00" in number else get_adapter().get_order_by_number(number)
    if order is None:
        raise errors.OrderNotFound()
    return order


def checked_carrier(code: str) -> str:
    """``code`` if it is empty or a code of the carrier registry; else
    ``unknown_carrier`` (400)."""
    from order_updates.carriers.registry import get_carrier

    if code and get_carrier(code) is None:
        raise errors.UnknownCarrierError(
            _(
                "Unknown carrier “%(code)s”. Use a code of the carrier registry, "
                "or leave carrier empty and give carrier_name."
            )
            % {"code": code[:50]}
        )
    return code


def validated(serializer_class: type, request: Request) -> dict[str, Any]:
    """The request's data, checked by ``serializer_class`` (400 otherwise)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
