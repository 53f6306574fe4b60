"""The merchant's admin: one module per screen.

- :mod:`.inlines`: the order's timeline and shipments, for the shop's own order admin;
- :mod:`.notifications`: the notification log, with a re-send action;
- :mod:`.orders`: the order screens (status, bulk status, shipments, notes,
  timeline) as a mixin for the shop's order admin, or a standalone page.
"""

from order_updates.admin.inlines import (
    OrderEventInline,
    ReadOnlyAdminMixin,
    ShipmentInline,
)
from order_updates.admin.notifications import NotificationAdmin
from order_updates.admin.orders import OrderUpdatesAdmin, OrderUpdatesAdminMixin

__all__ = [
    "NotificationAdmin",
    "OrderEventInline",
    "OrderUpdatesAdmin",
    "OrderUpdatesAdminMixin",
    "ReadOnlyAdminMixin",
    "ShipmentInline",
]
