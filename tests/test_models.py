import pytest
from django.utils import translation

from order_updates import services
from order_updates.exceptions import OrderUpdatesError
from order_updates.models import EventKind, OrderEvent, OrderState, Shipment


def test_events_are_append_only(order):
    event = services.start_tracking(order)
    event.message = "rewritten history"
    with pytest.raises(OrderUpdatesError, match="append-only"):
        event.save()
    with pytest.raises(OrderUpdatesError, match="append-only"):
        event.delete()
    with pytest.raises(OrderUpdatesError, match="append-only"):
        OrderEvent.objects.filter(pk=event.pk).update(message="x")
    with pytest.raises(OrderUpdatesError, match="append-only"):
        OrderEvent.objects.all().delete()
    assert OrderEvent.objects.get(pk=event.pk).message == ""


def test_sequence_is_unique_per_order(order):
    from django.db import IntegrityError, transaction

    services.start_tracking(order)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderEvent.objects.create(order_id=order.pk, sequence=1, kind=EventKind.NOTE)


def test_deleting_the_order_deletes_its_tracking(order):
    services.start_tracking(order, status="processing")
    services.add_shipment(order, tracking_number="T1", status="shipped")
    order.delete()
    assert not OrderState.objects.exists()
    assert not OrderEvent.objects.exists()
    assert not Shipment.objects.exists()


def test_state_knows_its_pipeline_status(order):
    services.start_tracking(order)
    state = OrderState.objects.get(order_id=order.pk)
    assert state.status_info.label == "Placed"
    assert str(state) == "%s: Placed" % order.pk
    with translation.override("de"):
        assert str(state) == "%s: Aufgegeben" % order.pk


def test_retired_status_still_displays(order, settings):
    services.start_tracking(order, status="on_hold")
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "PIPELINE": {
            "initial": "placed",
            "statuses": [{"code": "placed", "transitions": ["done"]}, {"code": "done"}],
        },
    }
    assert OrderState.objects.get(order_id=order.pk).status_info.label == "on_hold"
    assert services.get_status(order).label == "on_hold"
    # Orders in a retired status can always be moved out of it, one or many.
    services.set_status(order, "done")
    assert services.get_status(order).code == "done"


def test_event_strings(order):
    event = services.start_tracking(order)
    assert str(event) == "#1 Tracking started"
    assert event.is_public
    shipment = services.add_shipment(order, carrier="ups", tracking_number="1Z")
    assert str(shipment) == "ups 1Z"


def test_update_each_gives_each_row_its_own_values(make_order):
    import datetime

    from django.utils import timezone

    from order_updates import services
    from order_updates.models import Notification

    orders = [make_order() for _ in range(3)]
    services.bulk_set_status(orders, "confirmed")
    first, second, third = Notification.objects.order_by("pk")
    when = timezone.now().replace(microsecond=0) + datetime.timedelta(days=400)
    updated = Notification.objects.filter(state="pending").update_each(
        {
            first.pk: {"next_attempt_at": when, "attempts": 4, "last_error": "Ä\n'x"},
            second.pk: {"last_error": "only this"},
        },
        reason="common",
    )
    assert updated == 2
    first, second, third = Notification.objects.order_by("pk")
    assert (first.next_attempt_at, first.attempts, first.last_error) == (
        when,
        4,
        "Ä\n'x",
    )
    assert (second.attempts, second.last_error) == (0, "only this")
    assert second.next_attempt_at < when  # untouched
    assert first.reason == second.reason == "common"
    assert third.reason == "" and third.last_error == ""
    # The queryset's own conditions still apply.
    assert Notification.objects.filter(state="sent").update_each({third.pk: {}}) == 0
