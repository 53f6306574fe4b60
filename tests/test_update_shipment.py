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


# Further numbers and items ------------------------------------------------------------


def _lines(order):
    from order_updates.core.adapter import get_adapter

    return list(get_adapter().get_line_quantities(order))  # mug (2), tea (1)


def _numbers(shipment):
    return list(
        shipment.more_tracking_numbers.order_by("pk").values_list("number", flat=True)
    )


def test_further_numbers_are_replaced_and_the_old_ones_recorded(shipment):
    services.update_shipment(shipment, more_tracking_numbers=["1Z-B", "1Z-C"])
    assert _numbers(shipment) == ["1Z-B", "1Z-C"]
    # The main number among them is not kept twice; a typo is corrected.
    event = services.update_shipment(
        shipment, more_tracking_numbers=["1Z-TYPO", "1Z-B", "1Z-D"]
    )
    assert _numbers(shipment) == ["1Z-B", "1Z-D"]
    assert event.data["changed"] == ["more_tracking_numbers"]
    assert event.data["before"] == {"more_tracking_numbers": ["1Z-B", "1Z-C"]}
    assert Notification.objects.get(event=event).type == "shipping_update"
    assert (
        services.update_shipment(shipment, more_tracking_numbers=["1Z-B", "1Z-D"])
        is None
    )
    services.update_shipment(shipment, more_tracking_numbers=[])
    assert _numbers(shipment) == []


def test_items_are_checked_against_what_the_other_parcels_hold(make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    mug, tea = _lines(order)
    first = services.add_shipment(order, items=[{"line": mug, "quantity": 1}])
    second = services.add_shipment(order, items=[{"line": tea, "quantity": 1}])
    # Its own mug does not count against it: 2 of 2 once the other holds none.
    with pytest.raises(InvalidInput) as caught:
        services.update_shipment(second, items=[{"line": mug, "quantity": 2}])
    assert caught.value.argument == "items[0]"
    second.refresh_from_db()
    assert second.items == [{"line": tea, "quantity": 1}]
    event = services.update_shipment(
        first, items=[{"line": mug, "quantity": 2}], message="Both mugs in one box."
    )
    first.refresh_from_db()
    assert first.items == [{"line": mug, "quantity": 2}]
    assert event.data["before"] == {"items": [{"line": mug, "quantity": 1}]}
    # The same items in another order change nothing.
    assert services.update_shipment(first, items=[{"line": mug, "quantity": 2}]) is None
    # []: the whole order.
    services.update_shipment(second, items=[])
    second.refresh_from_db()
    assert second.items == []


def test_an_order_whose_parcels_now_hold_every_line_is_shipped(make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    mug, tea = _lines(order)
    parcel = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z1",
        items=[{"line": mug, "quantity": 2}],
        shipped_at=timezone.now(),
    )
    assert services.get_status(order).code == "partially_shipped"
    services.update_shipment(
        parcel,
        items=[{"line": mug, "quantity": 2}, {"line": tea, "quantity": 1}],
        message="The tea went in the same box.",
    )
    assert services.get_status(order).code == "shipped"
    moved = OrderEvent.objects.filter(order_id=order.pk).last()
    assert (moved.to_status, moved.message) == (
        "shipped",
        "The tea went in the same box.",
    )


def test_bad_numbers_and_items_raise_before_writing(shipment):
    for bad in ({"more_tracking_numbers": "1Z-B"}, {"items": "all of it"}):
        with pytest.raises(InvalidInputType):
            services.update_shipment(shipment, **bad)
    with pytest.raises(InvalidInput):
        services.update_shipment(shipment, more_tracking_numbers=["1Z-B", ""])
    with pytest.raises(InvalidInput):
        services.update_shipment(
            shipment, items=[{"line": "no-such-line", "quantity": 1}]
        )
    assert _numbers(shipment) == []
    assert OrderEvent.objects.filter(kind=EventKind.SHIPMENT_UPDATED).count() == 0
