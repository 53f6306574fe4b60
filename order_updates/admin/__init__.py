"""The merchant's admin: one module per screen.

- :mod:`.inlines`: the order's timeline and shipments, for the shop's own order admin;
- :mod:`.notifications`: the notification log, with re-send, cancel and a dashboard;
- :mod:`.orders`: the order screens (status, bulk status, shipments, notes,
  timeline) as a mixin for the shop's order admin, or a standalone page;
- :mod:`.templates`: the notification templates, their editor and the type switches.
"""

from order_updates.admin.inlines import (
    OrderEventInline,
    ReadOnlyAdminMixin,
    ShipmentInline,
)
from order_updates.admin.notifications import NotificationAdmin
from order_updates.admin.orders import OrderUpdatesAdmin, OrderUpdatesAdminMixin
from order_updates.admin.templates import NotificationTemplateAdmin

__all__ = [
    "NotificationAdmin",
    "NotificationTemplateAdmin",
    "OrderEventInline",
    "OrderUpdatesAdmin",
    "OrderUpdatesAdminMixin",
    "ReadOnlyAdminMixin",
    "ShipmentInline",
]
