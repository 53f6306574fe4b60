"""Default estimated deliveries from carriers' transit times.

When a shipment leaves (added with ``shipped_at``, or its first moving scan)
and nobody gave an estimate, its carrier's ``transit_days`` for its service (or
``DEFAULT_TRANSIT_DAYS``) give one, counted from the day it left. This runs as
an event consumer, inside the transaction of the change; it writes the estimate
revision but no timeline event (a default is not news), and costs nothing when
no transit time is configured.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from order_updates.carriers.registry import (
    default_transit_window,
    get_carrier,
    get_carriers,
)
from order_updates.conf import app_settings
from order_updates.core.events import Changes
from order_updates.models import (
    DeliveryEstimate,
    EstimateSource,
    EventKind,
    Shipment,
)

#: Events after which a shipment may have just left.
_KINDS = frozenset(
    {
        EventKind.SHIPMENT_ADDED,
        EventKind.SHIPMENT_UPDATED,
        EventKind.STATUS_CHANGED,
        EventKind.TRACKING_UPDATED,
    }
)


def transit_configured() -> bool:
    """Whether any carrier, or the default, has a transit time."""
    return app_settings.DEFAULT_TRANSIT_DAYS is not None or any(
        carrier.transit_days for carrier in get_carriers().values()
    )


def default_window(shipment: Shipment) -> tuple[datetime.date, datetime.date] | None:
    """The default estimate of a shipment that has left, or None."""
    if shipment.shipped_at is None:
        return None
    carrier = get_carrier(shipment.carrier)
    if carrier is not None:
        window = carrier.transit_window(shipment.service)
    else:
        window = default_transit_window()
    if window is None:
        return None
    left = timezone.localdate(shipment.shipped_at)
    return (
        left + datetime.timedelta(days=int(window[0])),
        left + datetime.timedelta(days=int(window[1])),
    )


def set_default_estimates(changes: Changes) -> None:
    """Event consumer: give shipments that just left their default estimate."""
    if not transit_configured():
        return
    pks: set[Any] = set()
    for _order, events in changes:
        for event in events:
            if event.kind in _KINDS and (event.data or {}).get("shipment"):
                pks.add(event.data["shipment"])
    if not pks:
        return
    shipments = Shipment.objects.filter(
        pk__in=pks, shipped_at__isnull=False, estimated_delivery_to__isnull=True
    )
    estimated = []
    windows = []
    for shipment in shipments:
        window = default_window(shipment)
        if window is not None:
            shipment.estimated_delivery_from, shipment.estimated_delivery_to = window
            estimated.append(shipment)
            windows.append(window)
    if not estimated:
        return
    # Set-based, for a shipping wave too: one UPDATE and one INSERT.
    Shipment.objects.bulk_update(
        estimated, ["estimated_delivery_from", "estimated_delivery_to"]
    )
    DeliveryEstimate.objects.bulk_create(
        DeliveryEstimate(
            shipment=shipment,
            earliest=earliest,
            latest=latest,
            source=EstimateSource.DEFAULT,
        )
        for shipment, (earliest, latest) in zip(estimated, windows, strict=True)
    )
