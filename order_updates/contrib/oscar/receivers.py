"""Receivers of django-oscar's signals, connected by the app's ``ready()``.

- ``order_placed`` (Oscar's ``OrderCreator``): order_updates starts tracking the
  order, in the status its Oscar status means;
- ``order_status_changed`` (``Order.set_status()``, the dashboard): recorded as
  a change the shop made (its ``save()`` inside ``set_status()`` usually got
  there first; then this costs one query and changes nothing);
- the lines of a ``ShippingEvent`` whose type means a parcel left: a shipment
  with those lines (Oscar saves the event first, then its lines one by one:
  the first line records the shipment, each further one adds itself to it).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_save
from oscar.apps.order.signals import order_placed, order_status_changed
from oscar.core.loading import get_model

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.core.shipments import shipped_lines
from order_updates.core.sync import record_shop_status
from order_updates.core.tracking import FOLLOWING_STATUSES
from order_updates.exceptions import OrderUpdatesError
from order_updates.models import Shipment
from order_updates.pipeline import get_pipeline

logger = logging.getLogger("order_updates.oscar")


def start_tracking_placed_order(
    sender: Any, order: Any, user: Any = None, **kwargs: Any
) -> None:
    """Oscar placed ``order``: start tracking it (the "order received" event)."""
    services.start_tracking(order, actor=user if user is not None else "customer")


def record_status_change(
    sender: Any,
    order: Any,
    old_status: Any = None,
    new_status: Any = None,
    **kwargs: Any,
) -> None:
    """Oscar changed ``order``'s status: record it (no-op if already recorded)."""
    record_shop_status(order, new_status)


def add_shipping_event_line(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """A line of an Oscar shipping event of a type that means a parcel left:
    the event's shipment, with the event's lines so far.

    The first line records the shipment; the order follows its shipments
    ("partially shipped" while lines remain, else "shipped"), or moves to the
    event type's other status when the pipeline allows it. Each further line
    adds itself to the shipment, which moves the order on when the parcel now
    completes it (the customer's pending message is replaced by the newer one).
    """
    if not created or raw:
        return
    event = instance.event
    adapter = get_adapter()
    method = getattr(adapter, "get_shipment_for_shipping_event", None)
    shipment = method(event) if method is not None else None
    if shipment is None:
        return
    order = event.order
    items = [
        {"line": str(line_id), "quantity": quantity}
        for line_id, quantity in event.line_quantities.order_by("pk").values_list(
            "line_id", "quantity"
        )
    ]
    status = shipment.pop("status", None)
    if status in FOLLOWING_STATUSES:
        status = None  # the order follows the parcel: partially or wholly shipped
    elif status:
        current = services.get_status(order)
        code = current.code if current else adapter.get_initial_status(order)
        if code == status or not get_pipeline().can_transition(code, status):
            status = None
    try:
        recorded = event_shipment(order, shipment)
        if recorded is None:
            services.add_shipment(
                order, items=items, status=status, actor="oscar", **shipment
            )
        else:
            # Told as a status change when the parcel now completes the order;
            # else its first line's message stays the one the customer gets.
            shipped = shipped_lines(order, excluding=recorded.pk)
            for item in items:
                shipped[item["line"]] = shipped.get(item["line"], 0) + item["quantity"]
            completes = all(
                shipped.get(key, 0) >= count
                for key, count in adapter.get_line_quantities(order).items()
            )
            services.update_shipment(
                recorded, items=items, actor="oscar", notify=completes
            )
    except OrderUpdatesError:
        # Oscar's dashboard has already saved the event: log, never break it.
        logger.exception(
            "Could not record Oscar shipping event %s of order %s as a shipment.",
            event.pk,
            order.number,
        )


def event_shipment(order: Any, shipment: dict[str, Any]) -> Shipment | None:
    """The shipment an earlier line of the same shipping event recorded: the
    order's newest with the event's time and tracking number."""
    return (
        Shipment.objects.filter(
            order_id=order.pk,
            shipped_at=shipment["shipped_at"],
            tracking_number=shipment["tracking_number"],
        )
        .order_by("-pk")
        .first()
    )


def connect_receivers() -> None:
    """Connect the receivers above to Oscar's signals (once)."""
    order_placed.connect(
        start_tracking_placed_order, dispatch_uid="order_updates.oscar.order_placed"
    )
    order_status_changed.connect(
        record_status_change, dispatch_uid="order_updates.oscar.order_status_changed"
    )
    post_save.connect(
        add_shipping_event_line,
        sender=get_model("order", "ShippingEventQuantity"),
        dispatch_uid="order_updates.oscar.shipping_event_line",
    )
