"""How an Oscar shop marks an order shipped and emails the customer, without
order_updates: Oscar's own order processing and communication APIs, as its
dashboard and checkout use them.

Per order, in one transaction (the dashboard's views each run in one request):

1. ``EventHandler.handle_shipping_event()`` with the "Shipped" shipping event
   type, every line and its whole quantity, and the tracking number as the
   event's reference (the dashboard's "reference" field, stored in the event's
   ``notes``): it checks each line's quantity, then creates the
   ``ShippingEvent`` and one ``ShippingEventQuantity`` per line.
2. ``EventHandler.handle_order_status_change(order, "Shipped", note_msg=...)``,
   as the dashboard's status form calls it: ``order.set_status()`` (saves the
   order, sends ``order_status_changed``, creates an ``OrderStatusChange``) and
   an ``OrderNote`` saying what changed.
3. The "shipped" email, sent synchronously the way checkout sends "order
   placed" (``OrderDispatcher.send_order_placed_email_for_user``): the
   ``ORDER_SHIPPED`` ``CommunicationEventType`` renders its file templates
   (templates/oscar/communication/emails/commtype_order_shipped_*), then
   ``OrderDispatcher.dispatch_order_messages()`` sends it through
   ``EMAIL_BACKEND``, records it as an ``Email`` row
   (``OSCAR_SAVE_SENT_EMAILS_TO_DB``) and records a ``CommunicationEvent``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_class

EventHandler = get_class("order.processing", "EventHandler")
OrderDispatcher = get_class("order.utils", "OrderDispatcher")

SHIPPED = "Shipped"
EVENT_CODE = "ORDER_SHIPPED"
STAGES = ("Ordered", "Preparing", "On its way", "Out for delivery", "Delivered")
CARRIERS = {"ups": "UPS", "dhl": "DHL", "fedex": "FedEx"}
logger = logging.getLogger("bench.oscarpeer")


def ship(
    order,
    *,
    merchant,
    event_type,
    carrier: str,
    tracking_number: str,
    tracking_url: str,
) -> None:
    """Mark ``order`` shipped and send the "shipped" email, in one transaction."""
    with transaction.atomic():
        handler = EventHandler(user=merchant)
        lines = list(order.lines.all())
        handler.handle_shipping_event(
            order,
            event_type,
            lines,
            [line.quantity for line in lines],
            reference=tracking_number,
        )
        old_status = order.status
        handler.handle_order_status_change(
            order,
            SHIPPED,
            note_msg=_("Order status changed from '%(old_status)s' to '%(new_status)s'")
            % {"old_status": old_status, "new_status": SHIPPED},
        )
        send_shipped_email(
            order,
            lines,
            {
                "carrier_name": CARRIERS.get(carrier, carrier),
                "tracking_number": tracking_number,
                "tracking_url": tracking_url,
                "shipped_at": timezone.now(),
            },
        )


def send_shipped_email(order, lines, shipment: dict[str, Any]) -> None:
    """Render the ``ORDER_SHIPPED`` messages and dispatch them to the customer."""
    dispatcher = OrderDispatcher(logger=logger)
    messages = dispatcher.dispatcher.get_messages(
        EVENT_CODE, message_context(order, lines, shipment)
    )
    dispatcher.dispatch_order_messages(order, messages, EVENT_CODE)


def message_context(order, lines, shipment: dict[str, Any]) -> dict[str, Any]:
    """What checkout's ``get_message_context()`` gives an order email, plus the
    parcel and the progress stages our "shipped" email shows."""
    current = STAGES.index("On its way")
    return {
        "user": order.user,
        "order": order,
        "lines": lines,
        "status_path": reverse("customer:order", kwargs={"order_number": order.number}),
        "shipment": shipment,
        "stages": [
            {"label": label, "done": index <= current, "current": index == current}
            for index, label in enumerate(STAGES)
        ],
    }
