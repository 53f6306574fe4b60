"""Notification types, and which timeline events trigger which type.

A type is what a message is about ("shipped", "delivered"…); each has default
templates per channel. ``ORDER_UPDATES["NOTIFICATION_TYPES"]`` overrides a
type's fields; ``ORDER_UPDATES["EVENT_NOTIFICATIONS"]`` changes which event
triggers it; a merchant's :class:`~order_updates.models.NotificationTypeSetting`
row switches a type on or off (the admin's notification templates screen writes it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from order_updates.conf import RELOAD_HOOKS, app_settings
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.models import NotificationTypeSetting

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from order_updates.models import OrderEvent

#: Categories customers choose channels for.
CATEGORIES = {
    "order": _("Order updates"),
    "shipping": _("Shipping updates"),
}


@dataclass(frozen=True)
class NotificationType:
    """What a notification is about."""

    code: str
    label: StrOrPromise
    #: Key of :data:`CATEGORIES`: which preference applies.
    category: str
    #: Off types send nothing (unless settings or the merchant turn them on).
    enabled: bool = True
    #: Whether this message waits COALESCE_SECONDS, and is replaced by a newer
    #: message of a coalescing type (and replaces older ones) until it goes out.
    coalesce: bool = True


DEFAULT_TYPES = [
    NotificationType("order_received", _("Order received"), "order"),
    NotificationType("order_confirmed", _("Order confirmed"), "order"),
    NotificationType("order_processing", _("Order processing"), "order", enabled=False),
    NotificationType("shipped", _("Shipped"), "shipping"),
    NotificationType("shipping_update", _("Shipping update"), "shipping"),
    NotificationType("out_for_delivery", _("Out for delivery"), "shipping"),
    NotificationType("delivered", _("Delivered"), "shipping"),
    NotificationType("delayed", _("Delivery delayed"), "shipping"),
    NotificationType(
        "delivery_exception", _("Delivery problem or attempted delivery"), "shipping"
    ),
    NotificationType("on_hold", _("Order on hold"), "order"),
    NotificationType("cancelled", _("Order cancelled"), "order"),
    NotificationType("refunded", _("Order refunded"), "order"),
    NotificationType("returned", _("Return received"), "order"),
    # A note is its own message: a status change must not swallow it.
    NotificationType("note_added", _("Message from the shop"), "order", coalesce=False),
]

#: Which event triggers which type: event kinds, or "status:<code>" for changes.
DEFAULT_EVENT_NOTIFICATIONS: dict[str, str] = {
    "tracking_started": "order_received",
    "status:confirmed": "order_confirmed",
    "status:processing": "order_processing",
    "status:shipped": "shipped",
    "status:partially_shipped": "shipped",
    "status:out_for_delivery": "out_for_delivery",
    "status:delivered": "delivered",
    "status:on_hold": "on_hold",
    "status:cancelled": "cancelled",
    "status:refunded": "refunded",
    "status:returned": "returned",
    "shipment_added": "shipping_update",
    "shipment_updated": "shipping_update",
    "delivery_delayed": "delayed",
    "delivery_exception": "delivery_exception",
    "note": "note_added",
    # A shipment's tracking status changed ("tracking:<status>"); when the order's
    # status changes with it, that change notifies instead.
    "tracking:in_transit": "shipping_update",
    "tracking:available_for_pickup": "shipping_update",
    "tracking:out_for_delivery": "out_for_delivery",
    "tracking:delivered": "shipping_update",
    "tracking:attempt_fail": "delivery_exception",
    "tracking:exception": "delivery_exception",
    # An estimated delivery moved later.
    "estimate:later": "delayed",
    # Too long in a status, with a message for the customer.
    "status_overdue": "note_added",
}


@cache
def get_notification_types() -> dict[str, NotificationType]:
    """Every notification type by code, with settings applied."""
    types = {item.code: item for item in DEFAULT_TYPES}
    for code, overrides in app_settings.NOTIFICATION_TYPES.items():
        base = types.get(code) or NotificationType(code, code, "order")
        try:
            types[code] = replace(base, **overrides)
        except TypeError as exc:
            raise OrderUpdatesConfigurationError(
                "ORDER_UPDATES['NOTIFICATION_TYPES'][%r]: %s" % (code, exc)
            ) from exc
    return types


@cache
def get_event_notifications() -> dict[str, str]:
    """The event → type mapping, with settings applied."""
    mapping = {**DEFAULT_EVENT_NOTIFICATIONS, **app_settings.EVENT_NOTIFICATIONS}
    return {key: value for key, value in mapping.items() if value}


def type_for_event(
    event: OrderEvent, switches: dict[str, bool] | None = None
) -> NotificationType | None:
    """The type of notification ``event`` triggers, or None.

    ``switches`` are the merchant's on/off choices (:func:`merchant_switches`);
    they win over the type's default.
    """
    if event.kind == "status_changed":
        key = "status:%s" % event.to_status
    elif event.kind in ("note", "status_overdue") and not event.message:
        return None  # internal notes never notify
    elif event.kind == "tracking_updated":
        key = "tracking:%s" % (event.data or {}).get("tracking_status", "")
    elif event.kind == "estimate_changed":
        key = "estimate:later" if (event.data or {}).get("later") else "estimate:set"
    else:
        key = event.kind
    code = get_event_notifications().get(key)
    if not code:
        return None
    notification_type = get_notification_types().get(code)
    if notification_type is None:
        return None
    if not (switches or {}).get(code, notification_type.enabled):
        return None
    return notification_type


def merchant_switches() -> dict[str, bool]:
    """The types a merchant switched on or off: ``{code: enabled}``."""
    return dict(NotificationTypeSetting.objects.values_list("type", "enabled"))


RELOAD_HOOKS.extend(
    [get_notification_types.cache_clear, get_event_notifications.cache_clear]
)
