import pytest
from django.db import transaction

from order_updates import services, signals
from order_updates.conf import get_order_model
from order_updates.models import EventKind, OrderEvent, OrderState


def statuses():
    return dict(OrderState.objects.values_list("order_id", "status"))


def test_bulk_result_says_what_changed_and_why_others_did_not(make_order, staff_user):
    placed = make_order()
    confirmed = make_order()
    delivered = make_order()
    untracked = make_order()
    services.start_tracking(placed)
    services.start_tracking(confirmed, status="confirmed")
    services.start_tracking(delivered, status="delivered")

    result = services.bulk_set_status(
        [placed, confirmed, delivered, untracked],
        "confirmed",
        actor=staff_user,
        message="We're on it",
    )

    assert sorted(result.changed) == sorted([placed.pk, untracked.pk])
    assert result.skipped == {
        confirmed.pk: "The order is already in status “Confirmed”.",
        delivered.pk: "An order in status “Delivered” cannot move to “Confirmed”.",
    }
    assert bool(result)
    assert statuses() == {
        placed.pk: "confirmed",
        confirmed.pk: "confirmed",
        delivered.pk: "delivered",
        untracked.pk: "confirmed",
    }
    event = OrderEvent.objects.get(order_id=placed.pk, sequence=2)
    assert (event.kind, event.from_status, event.to_status) == (
        EventKind.STATUS_CHANGED,
        "placed",
        "confirmed",
    )
    assert event.actor_user == staff_user and event.message == "We're on it"
    assert event.data["bulk"] == result.events[0].data["bulk"]
    # The untracked order got its first event, then the change.
    assert list(
        OrderEvent.objects.filter(order_id=untracked.pk).values_list("sequence", "kind")
    ) == [(1, EventKind.TRACKING_STARTED), (2, EventKind.STATUS_CHANGED)]
    assert OrderState.objects.get(order_id=untracked.pk).last_sequence == 2
    assert OrderState.objects.get(order_id=confirmed.pk).last_sequence == 1


def test_untracked_order_skipped_is_still_tracked(make_order):
    order = make_order()
    result = services.bulk_set_status([order], "delivered")
    assert result.changed == [] and not result
    assert "cannot move" in result.skipped[order.pk]
    state = OrderState.objects.get(order_id=order.pk)
    assert (state.status, state.last_sequence) == ("placed", 1)


def test_bulk_accepts_a_queryset(make_order):
    orders = [make_order() for _ in range(5)]
    for order in orders[:2]:
        services.start_tracking(order, status="cancelled")
    queryset = get_order_model().objects.filter(pk__in=[o.pk for o in orders])
    result = services.bulk_set_status(queryset, "on_hold")
    assert sorted(result.changed) == sorted(o.pk for o in orders[2:])
    assert set(result.skipped) == {o.pk for o in orders[:2]}


def test_bulk_skips_orders_deleted_meanwhile(make_order):
    order = make_order()
    gone = make_order()
    gone_pk = gone.pk
    gone.delete()
    gone.pk = gone_pk
    result = services.bulk_set_status([order, gone], "confirmed")
    assert result.changed == [order.pk]
    assert result.skipped == {gone_pk: "Order does not exist."}


def test_bulk_is_set_based(make_order, django_assert_max_num_queries, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "BULK_BATCH_SIZE": 50}
    orders = [make_order() for _ in range(120)]
    services.bulk_set_status(orders[:60], "confirmed")  # half are tracked already
    queryset = get_order_model().objects.filter(pk__in=[o.pk for o in orders])
    # 3 batches of at most 50: lock, read untracked, create states, relock, load
    # the orders (for the event consumers), insert events, the subscribed
    # webhook endpoints, update states; plus reading the pks and the savepoint.
    with django_assert_max_num_queries(3 * 8 + 3):
        result = services.bulk_set_status(queryset, "on_hold", notify=False)
    assert len(result.changed) == 120
    # Notifying adds, per batch: load the orders, the merchant's switches, the
    # customers' preferences, suppressed addresses, and the notification inserts.
    with django_assert_max_num_queries(3 * 13 + 3):
        result = services.bulk_set_status(queryset, "processing")
    assert len(result.changed) == 120
    assert set(statuses().values()) == {"processing"}
    sequences = OrderEvent.objects.filter(to_status="on_hold").values_list(
        "sequence", flat=True
    )
    assert sorted(set(sequences)) == [2, 3]


def test_bulk_signals_after_commit_once_per_changed_order(
    make_order, capture_signal, django_capture_on_commit_callbacks
):
    changed = capture_signal(signals.order_status_changed)
    orders = [make_order() for _ in range(3)]
    services.start_tracking(orders[0], status="cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        result = services.bulk_set_status(orders, "confirmed", notify=False)
        assert changed == []
    assert [(c["order"], c["new_status"], c["notify"]) for c in changed] == [
        (orders[1], "confirmed", False),
        (orders[2], "confirmed", False),
    ]
    assert [c["event"] for c in changed] == result.events


def test_bulk_signals_load_orders_given_as_queryset(
    make_order, capture_signal, django_capture_on_commit_callbacks
):
    changed = capture_signal(signals.order_status_changed)
    orders = [make_order() for _ in range(3)]
    queryset = get_order_model().objects.filter(pk__in=[o.pk for o in orders])
    with django_capture_on_commit_callbacks(execute=True):
        services.bulk_set_status(queryset, "confirmed")
    assert sorted(c["order"].pk for c in changed) == sorted(o.pk for o in orders)


@pytest.mark.django_db(transaction=True)
def test_bulk_rollback_sends_nothing(make_order, capture_signal):
    changed = capture_signal(signals.order_status_changed)
    orders = [make_order() for _ in range(3)]
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.bulk_set_status(orders, "confirmed")
        1 / 0  # noqa: B018
    assert changed == []
    assert not OrderState.objects.exists()
    assert not OrderEvent.objects.exists()


def test_bulk_with_unknown_status_raises(make_order):
    from order_updates.exceptions import UnknownStatus

    with pytest.raises(UnknownStatus):
        services.bulk_set_status([make_order()], "nope")


def test_bulk_announces_orders_it_starts_tracking(
    make_order, capture_signal, django_capture_on_commit_callbacks
):
    started = capture_signal(signals.order_tracking_started)
    tracked, untracked = make_order(), make_order()
    services.start_tracking(tracked)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.bulk_set_status([tracked, untracked], "confirmed")
    assert [call["order"] for call in started] == [untracked]
    assert [event.order_id for event in result.started] == [untracked.pk]


def test_bulk_moves_orders_out_of_a_retired_status(make_order, settings):
    order = make_order()
    services.start_tracking(order, status="on_hold")
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "PIPELINE": {
            "initial": "placed",
            "statuses": [{"code": "placed", "transitions": ["done"]}, {"code": "done"}],
        },
    }
    result = services.bulk_set_status([order], "done")
    assert result.changed == [order.pk]


def test_bulk_accepts_a_sliced_queryset(make_order):
    orders = [make_order() for _ in range(4)]
    newest_two = orders[0].__class__.objects.order_by("-pk")[:2]
    result = services.bulk_set_status(newest_two, "confirmed")
    assert sorted(result.changed) == sorted(o.pk for o in orders[2:])


def test_bulk_refuses_a_queryset_of_another_model(django_user_model):
    with pytest.raises(TypeError, match="Expected a queryset of"):
        services.bulk_set_status(django_user_model.objects.all(), "confirmed")
