"""The API's OpenAPI 3 schema (drf-spectacular), limited to its own endpoints,
without any drf-spectacular setting in the shop's settings."""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework import permissions

import order_updates


def only_order_updates(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list:
    """drf-spectacular preprocessing hook: this API's endpoints only."""
    return [
        endpoint
        for endpoint in endpoints
        if getattr(getattr(endpoint[3], "cls", None), "__module__", "")
        in ("order_updates.api.customer", "order_updates.api.staff")
    ]


class SchemaView(SpectacularAPIView):
    """``GET schema/``: the OpenAPI document (YAML, or JSON with ``?format=json``)."""

    permission_classes = [permissions.AllowAny]
    custom_settings = {
        "TITLE": "order_updates API",
        "DESCRIPTION": (
            "Customers' orders and staff changes of django-order-updates. "
            "Errors are {detail, code}; validation errors are DRF's field → messages."
        ),
        "VERSION": order_updates.__version__,
        "PREPROCESSING_HOOKS": ["order_updates.api.schema.only_order_updates"],
        "COMPONENT_SPLIT_REQUEST": True,
        # A shipment's status and its scans' statuses are one vocabulary.
        "ENUM_NAME_OVERRIDES": {
            "TrackingStatusEnum": "order_updates.models.TrackingStatus",
            "TrackingSubstatusEnum": "order_updates.models.TrackingSubstatus",
        },
    }


def openapi_document() -> dict[str, Any]:
    """The schema that ``schema/`` serves, as plain JSON data (for tools and
    tests that want it without an HTTP request)."""
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer
    from drf_spectacular.settings import patched_settings

    with patched_settings(SchemaView.custom_settings):
        document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))
