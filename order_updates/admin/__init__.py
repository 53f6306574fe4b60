"""The merchant's admin: one module per screen.

- :mod:`.inlines`: the order's timeline and shipments, for the shop's own order admin;
- :mod:`.notifications`: the notification log, with re-send, cancel and a dashboard;
- :mod:`.templates`: the notification templates, their editor and the type switches.
"""

from order_updates.admin.inlines import (
    OrderEventInline,
    ReadOnlyAdminMixin,
    ShipmentInline,
)
from order_updates.admin.notifications import NotificationAdmin
from order_updates.admin.templates import NotificationTemplateAdmin

__all__ = [
    "NotificationAdmin",
    "NotificationTemplateAdmin",
    "OrderEventInline",
    "ReadOnlyAdminMixin",
    "ShipmentInline",
]
