"""The public API that changes orders: the one way to change state.

Each function runs in one transaction, locks the order's state row, validates,
appends timeline events, and sends signals only after the transaction commits, so a
rolled-back change sends nothing. Call them from checkout, views, tasks and the
shell alike::

    from order_updates import services

    services.start_tracking(order, actor=request.user)
    services.set_status(order, "shipped", actor=request.user, message="On its way!")

Shipments and what carriers report about them: ``add_shipment``,
``bulk_add_shipments``, ``update_shipment``, ``record_tracking_events``,
``set_estimated_delivery`` and ``find_shipments``.

They live in :mod:`order_updates.core` by concern (status changes, timeline
entries, shipments); this module is their stable import path.
"""

from order_updates.core.events import ACTOR_CUSTOMER, ACTOR_SYSTEM, Actor
from order_updates.core.shipments import (
    SHIPMENT_FIELDS,
    BulkShipmentResult,
    add_shipment,
    bulk_add_shipments,
    update_shipment,
)
from order_updates.core.status import (
    BulkResult,
    bulk_set_status,
    get_status,
    get_statuses,
    revoke_tracking_links,
    set_status,
    start_tracking,
    track_existing_orders,
)
from order_updates.core.sync import ACTOR_SHOP, sync_from_shop
from order_updates.core.timeline import (
    DELIVERY_ISSUES,
    add_delivery_feedback,
    add_note,
    report_delivery_issue,
)
from order_updates.core.tracking import (
    Estimate,
    Scan,
    TrackingResult,
    find_shipments,
    record_tracking_events,
    set_estimated_delivery,
)

__all__ = [
    "ACTOR_CUSTOMER",
    "ACTOR_SHOP",
    "ACTOR_SYSTEM",
    "DELIVERY_ISSUES",
    "SHIPMENT_FIELDS",
    "Actor",
    "BulkResult",
    "BulkShipmentResult",
    "Estimate",
    "Scan",
    "TrackingResult",
    "add_delivery_feedback",
    "add_note",
    "add_shipment",
    "bulk_add_shipments",
    "bulk_set_status",
    "find_shipments",
    "get_status",
    "get_statuses",
    "record_tracking_events",
    "report_delivery_issue",
    "revoke_tracking_links",
    "set_estimated_delivery",
    "set_status",
    "start_tracking",
    "sync_from_shop",
    "track_existing_orders",
    "update_shipment",
]
