"""The merchant's admin: one module per screen.

- :mod:`.inlines`: the order's timeline and shipments, for the shop's own order admin;
- :mod:`.notifications`: the notification log, with a re-send action;
- :mod:`.webhooks`: outbound webhook endpoints, and their deliveries' log with
  each attempt and a re-send action.
"""

from order_updates.admin.inlines import (
    OrderEventInline,
    ReadOnlyAdminMixin,
    ShipmentInline,
)
from order_updates.admin.notifications import NotificationAdmin
from order_updates.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

__all__ = [
    "NotificationAdmin",
    "OrderEventInline",
    "ReadOnlyAdminMixin",
    "ShipmentInline",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
