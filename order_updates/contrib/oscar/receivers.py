"""Receivers of django-oscar's signals, connected by the app's ``ready()``.

- ``order_placed`` (Oscar's ``OrderCreator``): order_updates starts tracking the
  order, in the status its Oscar status means;
- ``order_status_changed`` (``Order.set_status()``, the dashboard): recorded as
  a change the shop made (its ``save()`` inside ``set_status()`` usually got
  there first; then this costs one query and changes nothing);
- a new ``ShippingEvent`` whose type means a parcel left: a shipment.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_save
from oscar.apps.order.signals import order_placed, order_status_changed
from oscar.core.loading import get_model

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.core.sync import record_shop_status
from order_updates.exceptions import OrderUpdatesError
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


def add_shipment_for_shipping_event(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """A new Oscar shipping event of a type that means a parcel left: a shipment.

    The order moves to the event's status when the pipeline allows it from
    where the order is; otherwise the shipment is recorded alone.
    """
    if not created or raw:
        return
    adapter = get_adapter()
    method = getattr(adapter, "get_shipment_for_shipping_event", None)
    shipment = method(instance) if method is not None else None
    if shipment is None:
        return
    order = instance.order
    status = shipment.pop("status", None)
    if status:
        current = services.get_status(order)
        code = current.code if current else adapter.get_initial_status(order)
        if code == status or not get_pipeline().can_transition(code, status):
            status = None
    try:
        services.add_shipment(order, status=status, actor="oscar", **shipment)
    except OrderUpdatesError:
        # Oscar's dashboard has already saved the event: log, never break it.
        logger.exception(
            "Could not record Oscar shipping event %s of order %s as a shipment.",
            instance.pk,
            order.number,
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
        add_shipment_for_shipping_event,
        sender=get_model("order", "ShippingEvent"),
        dispatch_uid="order_updates.oscar.shipping_event",
    )
