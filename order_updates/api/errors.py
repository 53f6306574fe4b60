"""API errors: DRF exceptions with stable codes, and the handler that turns
order_updates' own errors into them.

Every error answer is DRF's ``{"detail": ...}`` with a ``"code"`` beside it
(validation errors keep DRF's field → messages shape).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from order_updates.exceptions import InvalidInput, InvalidTransition, UnknownStatus


class OrderNotFound(exceptions.NotFound):
    default_detail = _("No such order.")
    default_code = "not_found"


class NotificationNotFound(exceptions.NotFound):
    default_detail = _("No such notification.")
    default_code = "not_found"


class SubscriptionNotFound(exceptions.NotFound):
    default_detail = _("No such push subscription of yours.")
    default_code = "not_found"


class ShipmentNotFound(exceptions.NotFound):
    default_detail = _("No such shipment of this order.")
    default_code = "not_found"


class TrackingLinkNotFound(exceptions.NotFound):
    default_detail = _("This tracking link is not valid.")
    default_code = "not_found"


class LookupNotFound(exceptions.NotFound):
    default_detail = _("No order matches this number and email address.")
    default_code = "not_found"


class UnknownCarrierError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _(
        "Unknown carrier code. Use a code of the carrier registry, or leave "
        "carrier empty and give carrier_name."
    )
    default_code = "unknown_carrier"


class UnknownStatusError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Unknown order status.")
    default_code = "unknown_status"


class InvalidTransitionError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The order cannot move to this status.")
    default_code = "invalid_transition"


class InvalidInputError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Invalid input.")
    default_code = "invalid"


class NotResendable(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _(
        "Only failed, bounced, suppressed or skipped notifications can be re-sent."
    )
    default_code = "not_resendable"


def translate(exc: Exception) -> Exception:
    """The API exception for one of order_updates' errors (others unchanged)."""
    if isinstance(exc, UnknownStatus):
        return UnknownStatusError(str(exc))
    if isinstance(exc, InvalidTransition):
        return InvalidTransitionError(str(exc))
    if isinstance(exc, InvalidInput):
        return exceptions.ValidationError({exc.argument: [str(exc)]}, code="invalid")
    if isinstance(exc, Http404):
        return OrderNotFound()
    return exc


def handle(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's handler, after :func:`translate`, with each error's code in the body."""
    exc = translate(exc)
    response = exception_handler(exc, context)
    if (
        response is not None
        and isinstance(exc, exceptions.APIException)
        and not isinstance(exc, exceptions.ValidationError)
    ):
        response.data = {"detail": str(exc.detail), "code": exc.get_codes()}
    return response
