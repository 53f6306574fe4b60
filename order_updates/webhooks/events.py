"""Turning changes into webhook deliveries: the webhooks' outbox.

:func:`queue_webhooks` is an event consumer (registered in
``AppConfig.ready()``): it runs inside the transaction of every service that
writes timeline events, so a rolled-back change leaves no delivery behind.
:func:`queue_notification_webhook` receives ``notification_failed``, which the
delivery worker sends once the failure (or bounce) is recorded.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from order_updates.core.adapter import get_adapter
from order_updates.core.events import Changes
from order_updates.models import (
    EventKind,
    Notification,
    NotificationState,
    OrderEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from order_updates.notifications import queue

#: The task that delivers webhook rows (see order_updates.tasks).
DELIVER_TASK = "order_updates.deliver_webhooks"

#: Timeline event kind → the webhook event it raises.
EVENT_TYPES: dict[str, str] = {
    EventKind.STATUS_CHANGED: WebhookEventType.STATUS_CHANGED,
    EventKind.SHIPMENT_ADDED: WebhookEventType.SHIPMENT_CREATED,
    EventKind.DELIVERY_DELAYED: WebhookEventType.DELAYED,
}


def body(event_id: uuid.UUID, event_type: str, at: datetime, data: Any) -> str:
    """The JSON posted for one event: its id, type, time and data."""
    return json.dumps(
        {
            "id": str(event_id),
            "type": str(event_type),
            "timestamp": at.isoformat(),
            "data": data,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def order_data(order: models.Model) -> dict[str, Any]:
    """How an order appears in webhook data."""
    return {"id": order.pk, "number": get_adapter().get_number(order)}


def event_data(order: models.Model, event: OrderEvent) -> dict[str, Any]:
    """The data of a webhook about a timeline event."""
    return {
        "order": order_data(order),
        "event": {
            "sequence": event.sequence,
            "kind": event.kind,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "message": event.message,
            "note": event.note,
            "actor": event.actor_label,
            "data": event.data,
            "created_at": event.created_at,
        },
    }


def subscribers() -> dict[str, list[WebhookEndpoint]]:
    """Active endpoints by the event types they receive (one query)."""
    by_type: dict[str, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(active=True).only(
        "pk", "event_types"
    ):
        for event_type in endpoint.event_types or []:
            by_type.setdefault(event_type, []).append(endpoint)
    return by_type


def write(
    items: Iterable[tuple[str, models.Model | None, datetime, Any]],
    endpoints: dict[str, list[WebhookEndpoint]] | None = None,
) -> list[WebhookDelivery]:
    """Write the deliveries of ``(event type, order, time, data)`` items, one per
    subscribed endpoint, and have them published after the commit.
    """
    items = list(items)
    if not items:
        return []
    if endpoints is None:
        endpoints = subscribers()
    now = timezone.now()
    rows: list[WebhookDelivery] = []
    for event_type, order, at, data in items:
        receivers = endpoints.get(event_type, [])
        if not receivers:
            continue
        event_id = uuid.uuid4()
        text = body(event_id, event_type, at, data)
        rows.extend(
            WebhookDelivery(
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                order_id=order.pk if order is not None else None,
                body=text,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in receivers
        )
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
        queue.publish_after_commit(
            ((row.pk, row.next_attempt_at) for row in rows), task=DELIVER_TASK
        )
    return rows


def queue_webhooks(changes: Changes) -> list[WebhookDelivery]:
    """The event consumer: deliveries for the changes' events that have a
    webhook event type, to every active endpoint subscribed to it.

    Costs one query when a change has such an event (none otherwise), and
    one insert when an endpoint wants them.
    """
    relevant = [
        (order, event)
        for order, events in changes
        for event in events
        if event.kind in EVENT_TYPES
    ]
    if not relevant:
        return []
    endpoints = subscribers()
    items = [
        (EVENT_TYPES[event.kind], order, event.created_at, event_data(order, event))
        for order, event in relevant
        if endpoints.get(EVENT_TYPES[event.kind])
    ]
    return write(items, endpoints)


def queue_notification_webhook(
    sender: Any, notification: Notification, error: str = "", **kwargs: Any
) -> None:
    """Receiver of ``notification_failed``: a "notification.failed" (or
    "notification.bounced") delivery to the endpoints that want it.
    """
    event_type = (
        WebhookEventType.NOTIFICATION_BOUNCED
        if notification.state == NotificationState.BOUNCED
        else WebhookEventType.NOTIFICATION_FAILED
    )
    endpoints = subscribers()
    if not endpoints.get(event_type):
        return
    order = notification.order
    data = {
        "order": order_data(order),
        "notification": {
            "id": notification.pk,
            "type": notification.type,
            "channel": notification.channel,
            "recipient": notification.recipient,
            "state": notification.state,
            "error": error,
        },
    }
    with transaction.atomic():
        write([(event_type, order, timezone.now(), data)], endpoints)
