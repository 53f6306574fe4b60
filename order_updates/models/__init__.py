"""All models of order_updates; import them from here."""

from order_updates.models.notifications import (
    DeliveryFeedback,
    Notification,
    NotificationState,
    NotificationTypeSetting,
    SuppressedRecipient,
    SuppressionReason,
    SweeperRun,
)
from order_updates.models.preferences import NotificationPreference, PushSubscription
from order_updates.models.templates import (
    NotificationTemplate,
    NotificationTemplateRevision,
)
from order_updates.models.timeline import (
    ORDER_MODEL,
    STATUS_LENGTH,
    AppendOnlyQuerySet,
    EventKind,
    OrderEvent,
    OrderState,
    Shipment,
)
from order_updates.models.tracking import (
    DeliveryEstimate,
    EstimateSource,
    ShipmentTrackingNumber,
    TrackingEvent,
)
from order_updates.models.tracking_status import TrackingStatus, TrackingSubstatus
from order_updates.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "ORDER_MODEL",
    "STATUS_LENGTH",
    "AppendOnlyQuerySet",
    "DeliveryEstimate",
    "DeliveryFeedback",
    "EstimateSource",
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
    "ShipmentTrackingNumber",
    "SuppressedRecipient",
    "SuppressionReason",
    "SweeperRun",
    "TrackingEvent",
    "TrackingStatus",
    "TrackingSubstatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryState",
    "WebhookEndpoint",
    "WebhookEventType",
]
