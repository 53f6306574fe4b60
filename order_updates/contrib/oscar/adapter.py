"""The adapter for django-oscar's ``order.Order``."""

from __future__ import annotations

from typing import Any

from django.db import models

from order_updates.carriers.detection import detect
from order_updates.core.adapter import DefaultOrderAdapter
from order_updates.models import Shipment


class OscarOrderAdapter(DefaultOrderAdapter):
    """Reads an Oscar order: its lines, totals (tax included), addresses.

    Prices are Oscar's "incl. tax" ones: each line's total before discounts,
    Oscar's line discounts as the discount, the shipping charge (after its own
    discounts), and the order's tax shown as included. Surcharges are not shown
    (a total with surcharges logs that the figures do not add up).
    """

    order_fields_preset = {
        "number": "number",
        "email": "email",  # Oscar's property: the guest's address or the user's
        "user": "user",
        "phone": "shipping_address__phone_number",
        "language": None,  # Oscar keeps none: the shop's LANGUAGE_CODE is used
        "customer_name": "shipping_address__name",
        "items": "lines",
        "total": "total_incl_tax",
        "currency": "currency",
        "shipping": "shipping_incl_tax",
        "discount": "total_discount_incl_tax",
        "tax": "total_tax",
        "created": "date_placed",
        "shipping_address": "shipping_address",
    }
    item_fields_preset = {
        "name": "title",
        "quantity": "quantity",
        # The whole line before discounts; the unit price follows from it.
        "line_total": "line_price_before_discounts_incl_tax",
        "sku": "partner_sku",
    }

    #: Where the admin's search finds a customer's email: a guest's own, else
    #: the account's (``email`` is a property of Oscar's order).
    email_search_paths = ["guest_email", "user__email"]

    #: Codes of Oscar shipping event types that mean a parcel left the shop,
    #: and the status each moves the order to (when the pipeline allows it).
    shipping_event_statuses: dict[str, str] = {
        "shipped": "shipped",
        "dispatched": "shipped",
    }

    def get_shipping_address(self, order: models.Model) -> str:
        """Oscar's address, one line per non-empty field (country by name)."""
        address = getattr(order, "shipping_address", None)
        if address is None:
            return ""
        return "\n".join(str(line) for line in address.active_address_fields())

    def get_shipment_for_shipping_event(self, event: Any) -> dict[str, Any] | None:
        """The :func:`~order_updates.services.add_shipment` arguments for an Oscar
        ``ShippingEvent``, or None if its type is not a shipment.

        The event's reference (its ``notes``, which Oscar's dashboard asks for
        with the event) is taken as the tracking number when it looks like
        one, else kept as a staff note. Oscar has no carrier field: the carrier
        is the one the number's shape and check digit point at
        (:func:`~order_updates.carriers.detection.detect`), when only one does.
        """
        status = self.shipping_event_statuses.get(event.event_type.code)
        if status is None:
            return None
        reference = (event.notes or "").strip()
        max_length = Shipment._meta.get_field("tracking_number").max_length or 0
        is_number = reference and " " not in reference and len(reference) <= max_length
        detected = detect(reference).carrier if is_number else None
        return {
            "carrier": detected.code if detected is not None else "",
            "tracking_number": reference if is_number else "",
            "note": "" if is_number else reference,
            "shipped_at": event.date_created,
            "status": status,
        }
