"""Status sync with the shop's own status field, both ways, without loops.

Each test shop has a status field of its own (plainshop ``Order.state``,
customershop ``Purchase.fulfilment``, with values of its own); the fixture below
points ``STATUS_FIELD`` and ``STATUS_MAP`` at it.
"""

import logging

import pytest
from django.core.checks import run_checks
from django.db import transaction

from order_updates import services
from order_updates.conf import get_order_model
from order_updates.models import Notification, OrderEvent

SHOP_STATUS = {
    # plainshop: lowercase words, two of which mean "placed".
    "plainshop": (
        "state",
        {
            "new": "placed",
            "awaiting_payment": "placed",
            "paid": "confirmed",
            "packed": "processing",
            "sent": "shipped",
            "delivered": "delivered",
            "cancelled": "cancelled",
        },
    ),
    # customershop: capitals, two of which mean "placed" too.
    "customershop": (
        "fulfilment",
        {
            "OPEN": "placed",
            "REVIEW": "placed",
            "PAID": "confirmed",
            "PACKING": "processing",
            "DISPATCHED": "shipped",
            "DONE": "delivered",
            "VOID": "cancelled",
        },
    ),
}


@pytest.fixture
def shop_status(settings):
    """The active shop's status field and the shop's value of each pipeline code."""
    field, mapping = SHOP_STATUS[settings.TEST_SHOP]
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_FIELD": field,
        "STATUS_MAP": mapping,
    }
    value_of = {}
    for value, code in mapping.items():
        value_of.setdefault(code, value)
    return field, value_of


def shop_value(order, field):
    order.refresh_from_db(fields=[field])
    return getattr(order, field)


def events(order):
    return list(
        OrderEvent.objects.filter(order_id=order.pk)
        .order_by("sequence")
        .values_list("kind", "from_status", "to_status", "actor_label")
    )


# order_updates → shop ----------------------------------------------------------------


def test_set_status_writes_the_shops_field(shop_status, order):
    field, value_of = shop_status
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    assert shop_value(order, field) == value_of["confirmed"]


def test_the_instance_follows_so_the_shops_next_save_keeps_it(shop_status, order):
    field, value_of = shop_status
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    assert getattr(order, field) == value_of["confirmed"]
    order.save()  # the shop saves the same instance for its own reasons
    assert services.get_status(order).code == "confirmed"
    assert len(events(order)) == 2


def test_a_rolled_back_change_leaves_the_shops_field_alone(shop_status, make_order):
    field, value_of = shop_status
    order = make_order()
    services.start_tracking(order)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_status(order, "confirmed")
        raise RuntimeError
    assert shop_value(order, field) == value_of["placed"]


def test_a_value_that_already_means_the_status_is_kept(shop_status, make_order):
    field, _value_of = shop_status
    mapping = SHOP_STATUS[type(make_order()).__module__.split(".")[-2]][1]
    alias = [value for value, code in mapping.items() if code == "placed"][1]
    order = make_order(**{field: alias})
    services.start_tracking(order)
    assert services.get_status(order).code == "placed"
    assert shop_value(order, field) == alias  # not rewritten to the first value


def test_tracking_starts_in_the_status_the_shops_field_means(shop_status, make_order):
    field, value_of = shop_status
    order = make_order(**{field: value_of["processing"]})
    services.start_tracking(order)
    assert services.get_status(order).code == "processing"


def assert_written_once(queries, orders, field, value):
    """One UPDATE of the shop's order table wrote ``value`` to ``orders[1:]``."""
    table = type(orders[0])._meta.db_table
    updates = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and table in q["sql"]
    ]
    assert len(updates) == 1
    assert {shop_value(order, field) for order in orders[1:]} == {value}


def test_bulk_set_status_writes_the_changed_orders_in_one_statement(
    shop_status, make_order, django_assert_max_num_queries
):
    field, value_of = shop_status
    orders = [make_order() for _ in range(5)]
    services.set_status(orders[0], "cancelled")
    with django_assert_max_num_queries(20) as queries:
        result = services.bulk_set_status(orders, "confirmed", notify=False)
    assert len(result.changed) == 4
    assert_written_once(queries, orders, field, value_of["confirmed"])
    assert shop_value(orders[0], field) == value_of["cancelled"]


def test_shipments_that_move_the_order_write_the_field(shop_status, order):
    field, value_of = shop_status
    services.set_status(order, "processing")
    services.add_shipment(order, carrier="ups", tracking_number="1Z9", status="shipped")
    assert shop_value(order, field) == value_of["shipped"]


def test_bulk_add_shipments_writes_the_moved_orders_in_one_statement(
    shop_status, make_order, django_assert_max_num_queries
):
    field, value_of = shop_status
    orders = [make_order() for _ in range(5)]
    services.bulk_set_status(orders, "processing", notify=False)
    services.set_status(orders[0], "cancelled")
    with django_assert_max_num_queries(20) as queries:
        result = services.bulk_add_shipments(
            [(order, {"tracking_number": "1Z%d" % order.pk}) for order in orders],
            status="shipped",
            notify=False,
        )
    assert len(result.changed) == 4
    assert_written_once(queries, orders, field, value_of["shipped"])
    assert shop_value(orders[0], field) == value_of["cancelled"]
    # The instances follow too, so the shop's next save() keeps the value.
    assert {getattr(order, field) for order in orders[1:]} == {value_of["shipped"]}


def test_shops_without_a_status_field_configure_nothing(order, settings):
    assert "STATUS_FIELD" not in settings.ORDER_UPDATES
    services.set_status(order, "confirmed")
    field = SHOP_STATUS[settings.TEST_SHOP][0]
    assert shop_value(order, field) in ("new", "OPEN")  # the model's default


# shop → order_updates ----------------------------------------------------------------


def test_the_shops_own_save_becomes_an_event_with_one_notification(shop_status, order):
    field, value_of = shop_status
    services.start_tracking(order)
    Notification.objects.all().delete()
    setattr(order, field, value_of["shipped"])
    with transaction.atomic():
        order.save()
    assert services.get_status(order).code == "shipped"
    assert events(order)[-1] == ("status_changed", "placed", "shipped", "shop")
    assert OrderEvent.objects.filter(order_id=order.pk).last().data == {
        "shop_status": value_of["shipped"]
    }
    assert list(Notification.objects.values_list("type", "channel")) == [
        ("shipped", "email")
    ]
    # Saving again, or order_updates' own write-back, changes nothing more.
    order.save()
    order.refresh_from_db()
    order.save()
    assert len(events(order)) == 2
    assert Notification.objects.count() == 1


def test_a_save_of_other_fields_costs_no_query(
    shop_status, order, django_assert_num_queries
):
    field, _value_of = shop_status
    services.start_tracking(order)
    other = "email" if field == "state" else "amount"
    with django_assert_num_queries(1):  # the UPDATE of the save itself
        order.save(update_fields=[other])


def test_the_shop_may_jump_where_the_pipeline_would_not(shop_status, order):
    field, value_of = shop_status
    services.set_status(order, "cancelled")  # terminal in the pipeline
    setattr(order, field, value_of["delivered"])
    order.save()
    assert services.get_status(order).code == "delivered"


def test_queryset_update_then_sync_from_shop(shop_status, make_order, capture_signal):
    from order_updates.signals import order_status_changed

    field, value_of = shop_status
    orders = [make_order() for _ in range(3)]
    for order in orders:
        services.start_tracking(order)
    untracked = make_order()
    model = type(orders[0])
    pks = [order.pk for order in [*orders[:2], untracked]]
    model.objects.filter(pk__in=pks).update(**{field: value_of["processing"]})
    calls = capture_signal(order_status_changed)
    with django_capture_on_commit():
        moved = services.sync_from_shop(model.objects.filter(pk__in=pks))
    assert sorted(moved) == sorted(order.pk for order in orders[:2])
    assert [call["new_status"] for call in calls] == ["processing", "processing"]
    assert services.get_status(orders[2]).code == "placed"
    assert services.get_status(untracked) is None  # not tracked: left alone
    # Nothing changed since: a second call moves nothing.
    assert services.sync_from_shop(model.objects.filter(pk__in=pks)) == []
    assert Notification.objects.filter(type="order_processing").count() == 0


def django_capture_on_commit():
    """Run on-commit callbacks at the end of the block (the test's transaction)."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_a_value_that_means_no_status_is_logged_and_left(shop_status, order, caplog):
    field, _value_of = shop_status
    services.start_tracking(order)
    setattr(order, field, "lost_in_space")
    with caplog.at_level(logging.WARNING, logger="order_updates.sync"):
        order.save()
    assert services.get_status(order).code == "placed"
    assert "lost_in_space" in caplog.text and "STATUS_MAP" in caplog.text


def test_sync_from_shop_needs_the_setting(order):
    from order_updates.exceptions import OrderUpdatesConfigurationError

    with pytest.raises(OrderUpdatesConfigurationError, match="STATUS_FIELD"):
        services.sync_from_shop([order])


def test_a_round_trip_makes_no_duplicate_event_or_message(shop_status, order):
    field, value_of = shop_status
    services.start_tracking(order)  # order received: 1 message
    services.set_status(order, "confirmed")  # 2
    services.set_status(order, "processing")  # (no message by default)
    setattr(order, field, value_of["shipped"])
    order.save()  # the shop's dashboard: 3
    services.set_status(order, "delivered")  # 4
    order.save()  # the shop saves its instance again: nothing
    services.sync_from_shop([order])  # nothing
    assert [kind_to[2] for kind_to in events(order)] == [
        "placed",
        "confirmed",
        "processing",
        "shipped",
        "delivered",
    ]
    assert list(
        Notification.objects.filter(order_id=order.pk)
        .order_by("pk")
        .values_list("type", flat=True)
    ) == ["order_received", "order_confirmed", "shipped", "delivered"]
    assert shop_value(order, field) == value_of["delivered"]


# Checks ------------------------------------------------------------------------------


def ids(messages):
    return [message.id for message in messages if message.id.startswith("order_u")]


def test_checks_accept_the_test_shops_set_up(shop_status):
    assert ids(run_checks()) == []


def test_check_status_field_must_be_a_field(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "STATUS_FIELD": "statsu"}
    messages = [m for m in run_checks() if m.id == "order_updates.E020"]
    assert len(messages) == 1
    assert "'statsu'" in messages[0].msg and "status" in messages[0].hint


def test_check_status_map_needs_the_field(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "STATUS_MAP": {"a": "placed"}}
    assert "order_updates.E020" in ids(run_checks())


def test_check_status_map_values_are_pipeline_codes(shop_status, settings):
    _field, _ = shop_status
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_MAP": {"new": "shipt"},
    }
    [message] = [m for m in run_checks() if m.id == "order_updates.E021"]
    assert "'shipt'" in message.msg
    assert "shipped" in message.hint


def test_check_warns_about_choices_that_mean_nothing(shop_status, settings):
    from order_updates.checks import check_status_sync

    field, _ = shop_status
    model = get_order_model()
    model_field = model._meta.get_field(field)
    saved = model_field.choices
    model_field.choices = [("new", "New"), ("held", "Held"), ("OPEN", "Open")]
    try:
        messages = check_status_sync()
    finally:
        model_field.choices = saved
    [message] = messages
    assert message.id == "order_updates.W023"
    assert "'held'" in message.msg


def test_a_wrong_status_field_is_a_clear_error_at_run_time_too(settings, order):
    from order_updates.exceptions import OrderUpdatesConfigurationError

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "STATUS_FIELD": "statsu"}
    with pytest.raises(OrderUpdatesConfigurationError, match=r"\['STATUS_FIELD'\]"):
        services.set_status(order, "confirmed")
    assert services.get_status(order) is None  # nothing was written


def test_sync_from_shop_checks_its_arguments(shop_status, order):
    from order_updates.exceptions import InvalidInput

    with pytest.raises(InvalidInput):
        services.sync_from_shop([order], message=42)
    with pytest.raises(InvalidInput):
        services.sync_from_shop("not orders")
