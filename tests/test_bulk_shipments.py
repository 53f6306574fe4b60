"""bulk_add_shipments(): a whole shipping wave in one call, set-based."""

import pytest
from django.db import transaction

from order_updates import services, signals
from order_updates.conf import get_order_model
from order_updates.models import (
    EventKind,
    Notification,
    OrderEvent,
    OrderState,
    Shipment,
)


def ready_to_ship(make_order, count):
    orders = [make_order() for _ in range(count)]
    services.bulk_set_status(orders, "processing", notify=False)
    return orders


def wave(orders):
    return [
        (
            order,
            {
                "carrier": "ups",
                "tracking_number": "1Z%016d" % order.pk,
                "tracking_url": "https://www.ups.com/track?tracknum=1Z%016d" % order.pk,
            },
        )
        for order in orders
    ]


def test_each_order_gets_its_shipment_and_moves(make_order, staff_user):
    orders = ready_to_ship(make_order, 3)
    result = services.bulk_add_shipments(
        wave(orders), status="shipped", actor=staff_user, message="On its way"
    )
    assert sorted(result.changed) == sorted(order.pk for order in orders)
    assert result.skipped == {} and bool(result)
    assert {s.order_id: s.tracking_number for s in Shipment.objects.all()} == {
        order.pk: "1Z%016d" % order.pk for order in orders
    }
    assert [s.pk for s in result.shipments] == sorted(
        Shipment.objects.values_list("pk", flat=True)
    )
    for order in orders:
        events = list(OrderEvent.objects.filter(order_id=order.pk).order_by("sequence"))
        added, moved = events[-2:]
        assert [event.sequence for event in events] == list(range(1, len(events) + 1))
        assert added.kind == EventKind.SHIPMENT_ADDED and not added.notify
        assert added.data["tracking_number"] == "1Z%016d" % order.pk
        assert (moved.from_status, moved.to_status, moved.message) == (
            "processing",
            "shipped",
            "On its way",
        )
        assert moved.data["shipment"] == added.data["shipment"]
        assert moved.actor_user == staff_user
        state = OrderState.objects.get(order_id=order.pk)
        assert (state.status, state.last_sequence) == ("shipped", events[-1].sequence)


def test_one_shipped_message_per_order(make_order, mailoutbox):
    orders = ready_to_ship(make_order, 4)
    services.bulk_add_shipments(wave(orders), status="shipped")
    rows = Notification.objects.filter(channel="email")
    # The move notifies ("shipped"); the shipment event does not add a second one.
    assert sorted(rows.values_list("order_id", "type")) == sorted(
        (order.pk, "shipped") for order in orders
    )


def test_orders_that_cannot_move_or_have_bad_fields_are_skipped(make_order):
    good, cancelled, bad_link = ready_to_ship(make_order, 3)
    services.set_status(cancelled, "cancelled", notify=False)
    untracked = make_order()
    gone = make_order()
    gone_pk = gone.pk
    items = [
        *wave([good, cancelled, untracked]),
        (bad_link, {"tracking_url": "not a link"}),
        (gone_pk, {"tracking_number": "X"}),
    ]
    gone.delete()

    result = services.bulk_add_shipments(items, status="shipped")

    # An untracked order starts at "placed", from which it may ship.
    assert result.changed == [good.pk, untracked.pk]
    assert set(result.skipped) == {cancelled.pk, bad_link.pk, gone_pk}
    assert "cannot move" in result.skipped[cancelled.pk]
    assert "valid URL" in result.skipped[bad_link.pk]
    assert result.skipped[gone_pk] == "Order does not exist."
    assert sorted(Shipment.objects.values_list("order_id", flat=True)) == [
        good.pk,
        untracked.pk,
    ]
    assert services.get_status(cancelled).code == "cancelled"


def test_a_skipped_untracked_order_is_still_tracked(make_order):
    untracked = make_order()
    result = services.bulk_add_shipments(wave([untracked]), status="delivered")
    assert "cannot move" in result.skipped[untracked.pk]
    assert not Shipment.objects.exists()
    # Its first event, as in bulk_set_status; nothing else.
    assert list(
        OrderEvent.objects.filter(order_id=untracked.pk).values_list("kind", flat=True)
    ) == [EventKind.TRACKING_STARTED]


def test_without_status_only_shipments_and_shipping_updates(make_order):
    orders = ready_to_ship(make_order, 2)
    services.set_status(orders[0], "shipped", notify=False)
    result = services.bulk_add_shipments(wave(orders))
    assert result.changed == [] and len(result.shipments) == 2
    assert set(OrderState.objects.values_list("status", flat=True)) == {
        "shipped",
        "processing",
    }
    assert sorted(Notification.objects.values_list("type", flat=True)) == [
        "shipping_update",
        "shipping_update",
    ]


def test_primary_keys_work_as_well_as_instances(make_order):
    orders = ready_to_ship(make_order, 2)
    items = [(order.pk, fields) for order, fields in wave(orders)]
    result = services.bulk_add_shipments(items, status="shipped")
    assert sorted(result.changed) == sorted(order.pk for order in orders)


def test_bad_calls_are_refused_before_anything_is_written(make_order):
    (order,) = ready_to_ship(make_order, 1)
    with pytest.raises(TypeError, match="Unknown shipment fields carier"):
        services.bulk_add_shipments([(order, {"carier": "ups"})])
    with pytest.raises(ValueError, match="appears twice"):
        services.bulk_add_shipments([(order, {}), (order.pk, {})])
    assert not Shipment.objects.exists()


def test_set_based(make_order, django_assert_max_num_queries, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "BULK_BATCH_SIZE": 50}
    orders = ready_to_ship(make_order, 120)
    queryset_pks = [order.pk for order in orders]
    # Per batch of 50: lock, load the orders, insert shipments, insert events,
    # the outbox (one read of switches, preferences and unsent messages;
    # suppressions; rows), the subscribed webhook endpoints, update states: 9
    # (29 in all on PostgreSQL with the savepoint; SQLite splits the larger
    # inserts by its limit on parameters, 33).
    with django_assert_max_num_queries(3 * 9 + 6):
        result = services.bulk_add_shipments(
            [(pk, {"tracking_number": str(pk)}) for pk in queryset_pks],
            status="shipped",
        )
    assert len(result.changed) == 120
    assert Notification.objects.filter(type="shipped").count() == 120


def test_signals_after_commit_like_add_shipment(
    make_order, capture_signal, django_capture_on_commit_callbacks
):
    added = capture_signal(signals.shipment_added)
    changed = capture_signal(signals.order_status_changed)
    orders = ready_to_ship(make_order, 2)
    with django_capture_on_commit_callbacks(execute=True):
        services.bulk_add_shipments(wave(orders), status="shipped")
        assert added == [] and changed == []
    assert sorted(call["order"].pk for call in added) == sorted(o.pk for o in orders)
    assert {call["new_status"] for call in changed} == {"shipped"}
    assert all(isinstance(call["order"], get_order_model()) for call in changed)


def test_rollback_leaves_no_trace(make_order, capture_signal):
    added = capture_signal(signals.shipment_added)
    orders = ready_to_ship(make_order, 2)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.bulk_add_shipments(wave(orders), status="shipped")
        raise RuntimeError("checkout failed")
    assert not Shipment.objects.exists()
    assert not Notification.objects.filter(type="shipped").exists()
    assert added == []
    assert set(OrderState.objects.values_list("status", flat=True)) == {"processing"}
