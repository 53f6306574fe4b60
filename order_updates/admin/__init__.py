"""The merchant's admin: one module per screen.

- :mod:`.inlines`: the order's timeline and shipments, for the shop's own order admin;
- :mod:`.notifications`: the notification log, with re-send, cancel and a dashboard;
- :mod:`.orders`: the order screens (status, bulk status, shipments, notes,
  timeline) as a mixin for the shop's order admin, or a standalone page;
- :mod:`.templates`: the notification templates, their editor and the type switches;
- :mod:`.webhooks`: outbound webhook endpoints, and their deliveries' log with
  each attempt and a re-send action.
"""

from order_updates.admin.inlines import (
    OrderEventInline,
    ReadOnlyAdminMixin,
    ShipmentInline,
)
from order_updates.admin.notifications import NotificationAdmin
from order_updates.admin.orders import OrderUpdatesAdmin, OrderUpdatesAdminMixin
from order_updates.admin.templates import NotificationTemplateAdmin
from order_updates.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "NotificationAdmin",
    "NotificationTemplateAdmin",
    "OrderEventInline",
    "OrderUpdatesAdmin",
    "OrderUpdatesAdminMixin",
    "ReadOnlyAdminMixin",
    "ShipmentInline",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
