"""Per-carrier figures for merchants, from the shipments and scans already stored."""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass

from django.utils import timezone

from order_updates.carriers.registry import carrier_name
from order_updates.models import Shipment, TrackingStatus


@dataclass(frozen=True)
class CarrierFigures:
    """How one carrier did over a period."""

    carrier: str
    name: str
    #: Shipments delivered in the period.
    delivered: int
    #: Median days from shipped to delivered (None without shipped times).
    median_transit_days: float | None
    #: Share of those with an estimate delivered by its last day (None without).
    on_time_rate: float | None


def carrier_figures(
    days: int = 30, *, now: datetime.datetime | None = None
) -> list[CarrierFigures]:
    """Median transit time and on-time rate per carrier, over shipments delivered
    in the last ``days`` days; busiest carrier first. One query.
    """
    now = now or timezone.now()
    rows = Shipment.objects.filter(
        tracking_status=TrackingStatus.DELIVERED,
        delivered_at__gte=now - datetime.timedelta(days=days),
        delivered_at__lte=now,
    ).values_list(
        "carrier", "carrier_name", "shipped_at", "delivered_at", "estimated_delivery_to"
    )
    grouped: dict[tuple[str, str], list[tuple]] = {}
    for carrier, name, shipped, delivered, estimate in rows:
        key = (carrier, "" if carrier else name)
        grouped.setdefault(key, []).append((shipped, delivered, estimate))
    figures = []
    for (carrier, name), items in grouped.items():
        transit = [
            (delivered - shipped).total_seconds() / 86400
            for shipped, delivered, _estimate in items
            if shipped is not None and delivered >= shipped
        ]
        judged = [
            timezone.localdate(delivered) <= estimate
            for _shipped, delivered, estimate in items
            if estimate is not None
        ]
        figures.append(
            CarrierFigures(
                carrier=carrier,
                name=carrier_name(carrier, name),
                delivered=len(items),
                median_transit_days=round(statistics.median(transit), 1)
                if transit
                else None,
                on_time_rate=round(sum(judged) / len(judged), 3) if judged else None,
            )
        )
    return sorted(figures, key=lambda figure: (-figure.delivered, figure.name))
