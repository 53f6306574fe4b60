"""Providers retry and race: the same scans posted at once are stored once.

PostgreSQL only: SQLite serialises writers on the whole database.
"""

import datetime

import pytest

from order_updates import services
from order_updates.carriers import monitoring
from order_updates.models import EventKind, Notification, OrderEvent, TrackingEvent
from order_updates.services import Scan
from tests.test_concurrency import THREADS, run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.timezone.utc)


def test_the_same_scans_at_once_are_stored_and_told_once(make_order):
    order = make_order()
    services.set_status(order, "confirmed", notify=False)
    services.set_status(order, "processing", notify=False)
    shipment = services.add_shipment(order, carrier="ups", tracking_number="1Z")
    scans = [
        Scan(T0, "in_transit", event_id="a"),
        Scan(T0 + datetime.timedelta(hours=3), "out_for_delivery", event_id="b"),
    ]
    run_in_threads(lambda index: services.record_tracking_events(shipment, scans))
    assert TrackingEvent.objects.count() == 2
    assert services.get_status(order).code == "out_for_delivery"
    assert OrderEvent.objects.filter(kind=EventKind.TRACKING_UPDATED).count() == 1
    assert (
        Notification.objects.filter(
            order_id=order.pk, type="out_for_delivery", channel="email"
        ).count()
        == 1
    )


def test_overlapping_checks_raise_each_alert_once(make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_TIME_LIMITS": {"placed": 1},
    }
    orders = [make_order() for _ in range(THREADS)]
    for order in orders:
        services.start_tracking(order, at=T0, notify=False)
    raised = sum(run_in_threads(lambda index: monitoring.check_overdue()))
    assert raised == THREADS
    assert OrderEvent.objects.filter(kind=EventKind.STATUS_OVERDUE).count() == THREADS
