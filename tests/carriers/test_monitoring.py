"""The periodic checks: late, stuck and overdue, each raised once."""

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from order_updates import services, signals
from order_updates.carriers import monitoring
from order_updates.models import EventKind, Notification, OrderEvent
from order_updates.services import Scan

UTC = datetime.timezone.utc
MONDAY = datetime.datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def at(days, hours=0):
    return MONDAY + datetime.timedelta(days=days, hours=hours)


def events(order, kind):
    return list(OrderEvent.objects.filter(order_id=order.pk, kind=kind))


def delayed_emails(order):
    return Notification.objects.filter(
        order_id=order.pk, type="delayed", channel="email"
    ).count()


@pytest.fixture
def shipment(order):
    with time_machine.travel(MONDAY, tick=False):
        services.set_status(order, "confirmed", notify=False)
        services.set_status(order, "processing", notify=False)
        shipment = services.add_shipment(
            order, carrier="ups", tracking_number="1Z9", shipped_at=MONDAY, notify=False
        )
        services.set_estimated_delivery(shipment, datetime.date(2026, 11, 18))
    return shipment


def test_late_once_per_estimate_revision(order, shipment):
    with time_machine.travel(at(2), tick=False):  # the estimated day itself
        assert monitoring.check_late() == 0
    with time_machine.travel(at(3), tick=False):
        assert monitoring.check_late() == 1
        assert monitoring.check_late() == 0  # idempotent
    assert delayed_emails(order) == 1
    late = events(order, EventKind.DELIVERY_DELAYED)[0]
    assert late.data["reason"] == "late" and late.notify
    # A new estimate (later: the customer hears of it), then it passes too.
    with time_machine.travel(at(3, 1), tick=False):
        services.set_estimated_delivery(shipment, datetime.date(2026, 11, 20))
    assert delayed_emails(order) == 2
    with time_machine.travel(at(5), tick=False):
        assert monitoring.check_late() == 1
        assert monitoring.check_late() == 0
    assert len(events(order, EventKind.DELIVERY_DELAYED)) == 2


def test_delivered_is_never_late(order, shipment):
    services.record_tracking_events(shipment, [Scan(at(2), "delivered")])
    with time_machine.travel(at(10), tick=False):
        assert monitoring.check_late() == 0


def test_stuck_once_per_silence_per_carrier(order, shipment, settings, capture_signal):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STUCK_AFTER_DAYS": 5,
        "CARRIERS": {"ups": {"stuck_after_days": 2}},
    }
    services.record_tracking_events(shipment, [Scan(at(0, 2), "in_transit")])
    with time_machine.travel(at(2, 1), tick=False):
        assert monitoring.check_stuck() == 0
    with time_machine.travel(at(2, 3), tick=False):
        assert monitoring.check_stuck() == 1
        assert monitoring.check_stuck() == 0
    stuck = events(order, EventKind.SHIPMENT_STUCK)
    assert len(stuck) == 1 and not stuck[0].notify and not stuck[0].is_public
    assert "No carrier scan for 2 days" in stuck[0].note
    # A new scan ends the silence; the next silence is reported again.
    services.record_tracking_events(
        shipment, [Scan(at(3), "in_transit", message="Hub")]
    )
    with time_machine.travel(at(5, 1), tick=False):
        assert monitoring.check_stuck() == 1
    assert len(events(order, EventKind.SHIPMENT_STUCK)) == 2


def test_other_carriers_use_the_default(order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "STUCK_AFTER_DAYS": 5}
    services.add_shipment(order, carrier="gls", shipped_at=MONDAY, notify=False)
    with time_machine.travel(at(4), tick=False):
        assert monitoring.check_stuck() == 0
    with time_machine.travel(at(5, 1), tick=False):
        assert monitoring.check_stuck() == 1


def test_overdue_once_per_stay_with_an_optional_customer_update(make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_TIME_LIMITS": {"processing": {"days": 2, "message": True}, "placed": 1},
    }
    preparing, placed = make_order(), make_order()
    with time_machine.travel(MONDAY, tick=False):
        services.set_status(preparing, "confirmed", notify=False)
        services.set_status(preparing, "processing", notify=False)
        services.start_tracking(placed, notify=False)
    with time_machine.travel(at(1, 1), tick=False):
        assert monitoring.check_overdue() == 1  # placed, a day
    with time_machine.travel(at(2, 1), tick=False):
        assert monitoring.check_overdue() == 1  # processing, two days
        assert monitoring.check_overdue() == 0
    alert = events(preparing, EventKind.STATUS_OVERDUE)[0]
    assert alert.message.startswith("Your order is taking a little longer")
    assert alert.is_public and alert.notify
    assert Notification.objects.filter(
        order_id=preparing.pk, type="note_added", channel="email"
    ).exists()
    staff_only = events(placed, EventKind.STATUS_OVERDUE)[0]
    assert not staff_only.notify and not staff_only.is_public
    # Out and back in: a new stay, reported again when it lasts.
    with time_machine.travel(at(3), tick=False):
        services.set_status(preparing, "on_hold", notify=False)
        services.set_status(preparing, "processing", notify=False)
    with time_machine.travel(at(5, 1), tick=False):
        assert monitoring.check_overdue() == 1


def test_the_command_and_the_task_run_all_checks(order, shipment):
    from order_updates.tasks import check_shipments

    with time_machine.travel(at(3), tick=False):
        out = StringIO()
        call_command("order_updates_check_shipments", stdout=out)
        assert out.getvalue().strip() == "Late 1, stuck 0, overdue 0."
        assert check_shipments() == {"late": 0, "stuck": 0, "overdue": 0}


@pytest.mark.django_db(transaction=True)
def test_alert_signals_after_commit(make_order, settings, capture_signal):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_TIME_LIMITS": {"on_hold": 1},
    }
    order = make_order()
    calls = capture_signal(signals.status_overdue)
    stuck = capture_signal(signals.shipment_stuck)
    with time_machine.travel(MONDAY, tick=False):
        services.start_tracking(order, notify=False)
        services.set_status(order, "on_hold", notify=False)  # stays: not shipped
        services.add_shipment(order, shipped_at=MONDAY, notify=False)
    with time_machine.travel(at(9), tick=False):
        monitoring.check_all()
    assert [(c["status"], c["days"]) for c in calls] == [("on_hold", 9)]
    assert [c["days"] for c in stuck] == [9]


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"processing": 0}, "positive number"),
        ({"processing": {"hours": 3}}, "must have 'days'"),
        ([], "must be a dict"),
    ],
)
def test_bad_time_limits_name_the_key(settings, limits, message):
    from order_updates.exceptions import OrderUpdatesConfigurationError

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "STATUS_TIME_LIMITS": limits}
    with pytest.raises(OrderUpdatesConfigurationError, match=message):
        monitoring.status_time_limits()
