"""All models of order_updates; import them from here."""

from .notifications import (
    DeliveryFeedback,
    Notification,
    NotificationState,
    NotificationTypeSetting,
    SuppressedRecipient,
    SuppressionReason,
)
from .preferences import NotificationPreference, PushSubscription
from .templates import NotificationTemplate, NotificationTemplateRevision
from .timeline import (
    ORDER_MODEL,
    STATUS_LENGTH,
    AppendOnlyQuerySet,
    EventKind,
    OrderEvent,
    OrderState,
    Shipment,
)

__all__ = [
    "ORDER_MODEL",
    "STATUS_LENGTH",
    "AppendOnlyQuerySet",
    "DeliveryFeedback",
    "EventKind",
    "Notification",
    "NotificationPreference",
    "NotificationState",
    "NotificationTemplate",
    "NotificationTemplateRevision",
    "NotificationTypeSetting",
    "OrderEvent",
    "OrderState",
    "PushSubscription",
    "Shipment",
    "SuppressedRecipient",
    "SuppressionReason",
]
