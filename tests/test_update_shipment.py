"""Correcting a shipment: services.update_shipment."""

import datetime

import pytest
from django.utils import timezone

from order_updates import services, signals
from order_updates.exceptions import InvalidInput, InvalidInputType
from order_updates.models import EventKind, Notification, OrderEvent, Shipment


@pytest.fixture
def shipment(make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    return services.add_shipment(order, carrier="ups", tracking_number="1Z-TYPO")


def test_changes_the_fields_given_and_records_which(shipment, staff_user):
    event = services.update_shipment(
        shipment, tracking_number="1Z999", actor=staff_user, note="typo"
    )
    shipment.refresh_from_db()
    assert (shipment.carrier, shipment.tracking_number) == ("ups", "1Z999")
    assert event.kind == EventKind.SHIPMENT_UPDATED
    assert event.data == {
        "shipment": shipment.pk,
        "carrier": "ups",
        "carrier_name": "",
        "tracking_number": "1Z999",
        "tracking_url": "",
        "changed": ["tracking_number"],
        "before": {"tracking_number": "1Z-TYPO"},
    }
    assert (event.actor_user, event.note) == (staff_user, "typo")
    sequences = list(
        OrderEvent.objects.filter(order_id=shipment.order_id).values_list(
            "sequence", flat=True
        )
    )
    assert sequences == [1, 2, 3]


def test_the_customer_gets_a_shipping_update_unless_told_not(shipment):
    event = services.update_shipment(shipment, carrier="dhl")
    assert Notification.objects.get(event=event).type == "shipping_update"
    quiet = services.update_shipment(shipment, carrier="ups", notify=False)
    assert not Notification.objects.filter(event=quiet).exists()


def test_nothing_different_writes_nothing(shipment):
    count = OrderEvent.objects.count()
    assert services.update_shipment(shipment, carrier="ups") is None
    assert OrderEvent.objects.count() == count


def test_signal_after_commit_with_old_and_new_values(
    shipment, capture_signal, django_capture_on_commit_callbacks
):
    calls = capture_signal(signals.shipment_updated)
    shipped_at = timezone.now() - datetime.timedelta(hours=2)
    with django_capture_on_commit_callbacks() as callbacks:
        services.update_shipment(shipment, shipped_at=shipped_at)
    assert calls == []
    for callback in callbacks:
        callback()
    assert calls[0]["changed"] == {"shipped_at": [None, shipped_at]}
    assert calls[0]["shipment"].shipped_at == shipped_at


def test_bad_input_raises_before_writing(shipment):
    with pytest.raises(InvalidInput) as caught:
        services.update_shipment(shipment, tracking_url="not a link")
    assert caught.value.argument == "tracking_url"
    with pytest.raises(InvalidInputType):
        services.update_shipment(shipment, weight=3)
    with pytest.raises(InvalidInputType):
        services.update_shipment(Shipment(carrier="ups"), carrier="dhl")
    shipment.refresh_from_db()
    assert shipment.tracking_url == ""
    assert not OrderEvent.objects.filter(kind=EventKind.SHIPMENT_UPDATED).exists()
