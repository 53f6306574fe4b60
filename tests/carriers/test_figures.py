"""Per-carrier figures from stored scans."""

import datetime

import time_machine

from order_updates import services
from order_updates.carriers.figures import carrier_figures
from order_updates.services import Scan

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def delivered(order, carrier, shipped_days_ago, transit_days, estimate=None):
    shipped = NOW - datetime.timedelta(days=shipped_days_ago)
    shipment = services.add_shipment(
        order, carrier=carrier, shipped_at=shipped, notify=False
    )
    if estimate is not None:
        services.set_estimated_delivery(shipment, estimate, notify=False)
    services.record_tracking_events(
        shipment,
        [Scan(shipped + datetime.timedelta(days=transit_days), "delivered")],
        notify=False,
    )


def test_median_transit_and_on_time_rate_per_carrier(order, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        today = NOW.date()
        delivered(order, "ups", 10, 2, estimate=today - datetime.timedelta(days=8))
        delivered(order, "ups", 10, 3, estimate=today - datetime.timedelta(days=8))
        delivered(order, "ups", 10, 7)
        delivered(order, "dpd", 5, 1, estimate=today - datetime.timedelta(days=5))
        delivered(order, "dpd", 60, 1)  # delivered before the 30 days
        services.add_shipment(order, carrier="dpd", shipped_at=NOW, notify=False)
        with django_assert_num_queries(1):
            figures = carrier_figures(30)
    assert [(f.carrier, f.delivered) for f in figures] == [("ups", 3), ("dpd", 1)]
    ups, dpd = figures
    assert (ups.name, ups.median_transit_days, ups.on_time_rate) == ("UPS", 3.0, 0.5)
    assert (dpd.median_transit_days, dpd.on_time_rate) == (1.0, 0.0)
