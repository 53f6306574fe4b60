"""Turning changes into webhook deliveries: the webhooks' outbox.

:func:`queue_webhooks` is an event consumer (registered in
``AppConfig.ready()``): it runs inside the transaction of every service that
writes timeline events, so a rolled-back change leaves no delivery behind.
:func:`queue_failure_webhooks` is a failure consumer (registered there too): it
runs inside the transaction that records a notification's failure (or bounce),
so the two commit together.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import prefetch_related_objects
from django.utils import timezone

from order_updates.carriers.registry import carrier_name, tracking_link
from order_updates.core.adapter import get_adapter
from order_updates.core.events import Changes
from order_updates.models import (
    EventKind,
    Notification,
    NotificationState,
    OrderEvent,
    Shipment,
    TrackingEvent,
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
    EventKind.SHIPMENT_UPDATED: WebhookEventType.SHIPMENT_UPDATED,
    EventKind.TRACKING_UPDATED: WebhookEventType.TRACKING_UPDATED,
    EventKind.DELIVERY_DELAYED: WebhookEventType.DELAYED,
    EventKind.ESTIMATE_CHANGED: WebhookEventType.DELAYED,
}

#: Kinds that raise their webhook only for some of their events: a revised
#: estimate is a delay only when it moved later (and the parcel is still on
#: its way), which the event's data records as ``later``.
ONLY_WHEN: dict[str, Callable[[OrderEvent], bool]] = {
    EventKind.ESTIMATE_CHANGED: lambda event: bool((event.data or {}).get("later")),
}


def webhook_type(event: OrderEvent) -> str | None:
    """The webhook event type ``event`` raises, or None."""
    event_type = EVENT_TYPES.get(event.kind)
    if event_type is None:
        return None
    condition = ONLY_WHEN.get(event.kind)
    if condition is not None and not condition(event):
        return None
    return event_type


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


def _shipment_pk(event: OrderEvent) -> int | None:
    pk = (event.data or {}).get("shipment")
    return pk if isinstance(pk, int) and not isinstance(pk, bool) else None


def shipment_data(shipment: Shipment, more_numbers: list[str]) -> dict[str, Any]:
    """How a shipment appears in webhook data: carrier (code and name), service,
    every tracking number, the tracking link, the items, the normalized
    tracking status and the estimated delivery.
    """
    estimate = None
    if shipment.estimated_delivery_to is not None:
        estimate = {
            "earliest": shipment.estimated_delivery_from
            or shipment.estimated_delivery_to,
            "latest": shipment.estimated_delivery_to,
        }
    return {
        "id": shipment.pk,
        "carrier": shipment.carrier,
        "carrier_name": carrier_name(shipment.carrier, shipment.carrier_name),
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "tracking_numbers": [
            number for number in [shipment.tracking_number, *more_numbers] if number
        ],
        "tracking_url": tracking_link(
            shipment.carrier, shipment.tracking_number, shipment.tracking_url
        ),
        "items": shipment.items or [],
        "tracking_status": shipment.tracking_status,
        "tracking_substatus": shipment.tracking_substatus,
        "estimated_delivery": estimate,
        "shipped_at": shipment.shipped_at,
        "delivered_at": shipment.delivered_at,
    }


def scan_data(scan: TrackingEvent) -> dict[str, Any]:
    """How a carrier scan appears in webhook data."""
    return {
        "occurred_at": scan.occurred_at,
        "status": scan.status,
        "substatus": scan.substatus,
        "location": scan.location,
        "raw_status": scan.raw_status,
        "message": scan.message,
    }


def shipments_data(events: Iterable[OrderEvent]) -> dict[int, dict[str, Any]]:
    """Shipment primary key → its webhook data (with ``scan``, the newest scan,
    when one of ``events`` is a tracking update), for the shipments the events
    name: no query when they name none, else two (three with scans).
    """
    events = list(events)
    pks = {pk for pk in map(_shipment_pk, events) if pk is not None}
    if not pks:
        return {}
    shipments = list(
        Shipment.objects.filter(pk__in=pks).prefetch_related("more_tracking_numbers")
    )
    data = {
        shipment.pk: shipment_data(
            shipment, [row.number for row in shipment.more_tracking_numbers.all()]
        )
        for shipment in shipments
    }
    scanned: set[int] = {
        pk
        for event in events
        if event.kind == EventKind.TRACKING_UPDATED
        and (pk := _shipment_pk(event)) is not None
        and pk in data
    }
    if scanned:
        # The scan that decided each shipment's status: its newest (by time,
        # then the last stored), as core.tracking decides it.
        newest = TrackingEvent.objects.filter(
            shipment_id__in=scanned, occurred_at=models.F("shipment__last_scan_at")
        ).order_by("shipment_id", "-pk")
        for scan in newest:
            data[scan.shipment_id].setdefault("scan", scan_data(scan))
    return data


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
        (event_type, order, event)
        for order, events in changes
        for event in events
        if (event_type := webhook_type(event)) is not None
    ]
    if not relevant:
        return []
    endpoints = subscribers()
    wanted = [item for item in relevant if endpoints.get(item[0])]
    shipments = shipments_data(event for _type, _order, event in wanted)
    items = []
    for event_type, order, event in wanted:
        data = event_data(order, event)
        pk = _shipment_pk(event)
        shipment = shipments.get(pk) if pk is not None else None
        if shipment is not None:
            data["shipment"] = _for_event(shipment, event)
        items.append((event_type, order, event.created_at, data))
    return write(items, endpoints)


def _for_event(shipment: dict[str, Any], event: OrderEvent) -> dict[str, Any]:
    """The shipment's data for one event: the scan only with a tracking update."""
    if event.kind == EventKind.TRACKING_UPDATED or "scan" not in shipment:
        return shipment
    return {name: value for name, value in shipment.items() if name != "scan"}


def failure_type(notification: Notification) -> str:
    """The webhook event type of a failed (or bounced) notification."""
    if notification.state == NotificationState.BOUNCED:
        return WebhookEventType.NOTIFICATION_BOUNCED
    return WebhookEventType.NOTIFICATION_FAILED


def queue_failure_webhooks(
    failures: Iterable[tuple[Notification, str]],
) -> list[WebhookDelivery]:
    """The failure consumer: a "notification.failed" (or "notification.bounced")
    delivery per failure, to the active endpoints that want it.

    It runs in the transaction that records the failures (see
    :mod:`order_updates.notifications.failures`): the deliveries commit with
    them or not at all. Costs one query (the subscribed endpoints); when an
    endpoint wants them, one to load the orders not loaded yet and one insert,
    however many the failures.
    """
    failures = list(failures)
    if not failures:
        return []
    endpoints = subscribers()
    wanted = [
        (notification, error)
        for notification, error in failures
        if endpoints.get(failure_type(notification))
    ]
    if not wanted:
        return []
    prefetch_related_objects([notification for notification, _error in wanted], "order")
    now = timezone.now()
    items = []
    for notification, error in wanted:
        data = {
            "order": order_data(notification.order),
            "notification": {
                "id": notification.pk,
                "type": notification.type,
                "channel": notification.channel,
                "recipient": notification.recipient,
                "state": notification.state,
                "error": error,
            },
        }
        items.append((failure_type(notification), notification.order, now, data))
    return write(items, endpoints)
