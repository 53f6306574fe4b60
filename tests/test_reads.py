"""Cheaper reads (core.reads): several in one statement, fixed shapes compiled once."""

import datetime

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from order_updates import services
from order_updates.core.reads import (
    FixedRead,
    instances,
    read_together,
    run_fixed_reads,
)
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationTypeSetting,
    OrderEvent,
    Shipment,
)
from order_updates.notifications.outbox import PREFERENCE_FIELDS
from tests.queries import round_trips, statements


def test_reads_of_several_tables_come_back_as_their_values(db, django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    consent = datetime.datetime(
        2026, 3, 1, 9, 30, 15, 123456, tzinfo=datetime.timezone.utc
    )
    saved = [
        NotificationPreference.objects.create(
            user=user,
            channels={"order": ["email"], "shipping": []},
            sms_consent_at=consent,
            timezone="Europe/Berlin",
        ),
        NotificationPreference.objects.create(email="guest@example.com"),
    ]
    NotificationTypeSetting.objects.create(type="shipped", enabled=False)
    NotificationTypeSetting.objects.create(type="delivered", enabled=True)
    with CaptureQueriesContext(connection) as queries:
        found = read_together(
            {
                "switches": (
                    NotificationTypeSetting.objects.all(),
                    ("type", "enabled"),
                ),
                "preferences": (
                    NotificationPreference.objects.all(),
                    PREFERENCE_FIELDS,
                ),
                "none": (Notification.objects.filter(pk__in=[]), ("id",)),
            }
        )
    assert len(queries) == 1
    assert sorted(found["switches"]) == [("delivered", True), ("shipped", False)]
    assert found["none"] == []
    read = sorted(
        instances(NotificationPreference, PREFERENCE_FIELDS, found["preferences"]),
        key=lambda pref: pref.pk,
    )
    for got, expected in zip(read, saved, strict=True):
        expected.refresh_from_db()
        for field in NotificationPreference._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(expected, field.attname)
        assert not got.get_deferred_fields()
    assert read[0].sms_consent_at == consent
    assert read[0].channels == {"order": ["email"], "shipping": []}
    assert read[1].user_id is None and read[1].sms_consent_at is None


def test_nothing_to_read_costs_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert read_together({}) == {}
    with django_assert_num_queries(0):
        found = read_together({"none": (Notification.objects.none(), ("id",))})
    assert found == {"none": []}


def _values(rows):
    return [{k: v for k, v in vars(row).items() if k != "_state"} for row in rows]


def _shipments_with_numbers(order_pk):
    return (
        Shipment.objects.filter(order_id=order_pk)
        .annotate(more_number=F("more_tracking_numbers__number"))
        .order_by("pk", "more_number")
    )


def test_a_fixed_read_is_compiled_once_and_answers_as_its_queryset(make_order):
    orders = [make_order(), make_order()]
    for index, order in enumerate(orders):
        services.start_tracking(order)
        services.set_status(order, "processing", message="Packing %d" % index)
        services.add_shipment(
            order,
            carrier="dhl",
            tracking_number="JD%d" % index,
            more_tracking_numbers=["JD%dB" % index, "JD%dC" % index],
        )
    events = FixedRead(OrderEvent, lambda pk: OrderEvent.objects.filter(order_id=pk))
    shipments = FixedRead(Shipment, _shipments_with_numbers)
    for order in orders:  # the second order runs the SQL compiled for the first
        got = events(order.pk)
        assert _values(got) == _values(OrderEvent.objects.filter(order_id=order.pk))
        assert [e.data for e in got] == [
            e.data for e in OrderEvent.objects.filter(order_id=order.pk)
        ]
        got = shipments(order.pk)
        expected = list(_shipments_with_numbers(order.pk))
        assert _values(got) == _values(expected)
        assert [s.more_number for s in got] == [s.more_number for s in expected]
        assert got[0].created_at == expected[0].created_at
    # Compiled, not left to the ORM: one statement per database.
    assert [value is not None for value in events._compiled.values()] == [True]
    assert [value is not None for value in shipments._compiled.values()] == [True]


def test_a_fixed_read_of_a_list_is_compiled_per_length(make_order):
    orders = [make_order() for _ in range(3)]
    for order in orders:
        services.start_tracking(order)
    read = FixedRead(
        OrderEvent,
        lambda pks: OrderEvent.objects.filter(order_id__in=pks).order_by("pk"),
    )
    pks = [order.pk for order in orders]
    for chosen in ([pks[0]], [pks[1], pks[2]], [pks[2]], pks):
        assert _values(read(chosen)) == _values(
            OrderEvent.objects.filter(order_id__in=chosen).order_by("pk")
        )
    assert sorted(len(shape) and shape[1] for shape in read._compiled) == [1, 2, 3]


def test_shapes_a_fixed_read_cannot_reuse_are_left_to_the_orm(db, make_order):
    order = make_order()
    services.start_tracking(order)
    joined = FixedRead(
        OrderEvent,
        lambda pk: OrderEvent.objects.filter(order_id=pk).select_related("actor_user"),
    )
    by_text = FixedRead(OrderEvent, lambda kind: OrderEvent.objects.filter(kind=kind))
    assert _values(joined(order.pk)) == _values(
        OrderEvent.objects.filter(order_id=order.pk)
    )
    assert len(by_text("tracking_started")) == 1
    assert by_text("no_such_kind") == []
    # An id as text is converted by the ORM, as the queryset would.
    events = FixedRead(OrderEvent, lambda pk: OrderEvent.objects.filter(order_id=pk))
    assert _values(events(str(order.pk))) == _values(events(order.pk))
    assert len(events(order.pk)) == 1
    assert list(joined._compiled.values()) == [None]
    assert list(by_text._compiled.values()) == [None]


def test_a_fixed_read_defers_what_its_queryset_defers(make_order):
    order = make_order()
    services.start_tracking(order)
    services.add_shipment(order, carrier="dhl", tracking_number="JD1")
    read = FixedRead(
        Shipment,
        lambda pk: Shipment.objects.filter(order_id=pk).only("pk", "created_at"),
    )
    for _ in range(2):  # compiled, then run from what was compiled
        (got,) = read(order.pk)
        (expected,) = Shipment.objects.filter(order_id=order.pk).only(
            "pk", "created_at"
        )
        assert got.get_deferred_fields() == expected.get_deferred_fields()
        assert got.created_at == expected.created_at is not None
        assert got._state.db == expected._state.db and not got._state.adding
    assert [value is not None for value in read._compiled.values()] == [True]


def test_fixed_reads_run_together_answer_as_each_alone(make_order):
    """Independent reads in one round trip on PostgreSQL (one statement each
    in a single execute), one by one elsewhere; a read the ORM must run (an id
    as text) and a read with no rows keep their places."""
    order = make_order()
    services.start_tracking(order)
    services.add_shipment(
        order, carrier="dhl", tracking_number="JD1", more_tracking_numbers=["JD1B"]
    )
    events = FixedRead(OrderEvent, lambda pk: OrderEvent.objects.filter(order_id=pk))
    shipments = FixedRead(Shipment, _shipments_with_numbers)
    reads = [
        (events, (order.pk,)),
        (shipments, (order.pk,)),
        (events, (order.pk + 1000,)),  # nothing there
        (events, (str(order.pk),)),  # text: the ORM's, in a statement of its own
    ]
    alone = [read(*args) for read, args in reads]
    with CaptureQueriesContext(connection) as queries:
        together = run_fixed_reads(reads)
    assert [_values(rows) for rows in together] == [_values(rows) for rows in alone]
    assert [s.more_number for s in together[1]] == ["JD1B"]
    assert together[2] == [] and len(together[0]) == 2
    assert statements(queries) == 4
    assert len(queries) == round_trips(on_sqlite=4, on_postgresql=2)
    assert run_fixed_reads([]) == []


@pytest.mark.postgres
def test_with_server_side_binding_each_fixed_read_is_a_round_trip(make_order):
    """psycopg 3's server-side binding takes one statement per execute():
    the reads then run one by one, with the same answers."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    order = make_order()
    services.start_tracking(order)
    events = FixedRead(OrderEvent, lambda pk: OrderEvent.objects.filter(order_id=pk))
    shipments = FixedRead(Shipment, _shipments_with_numbers)
    reads = [(events, (order.pk,)), (shipments, (order.pk,))]
    alone = [read(*args) for read, args in reads]
    connection.ensure_connection()
    raw = connection.connection
    default = raw.cursor_factory
    raw.cursor_factory = ServerBindingCursor
    try:
        with CaptureQueriesContext(connection) as queries:
            together = run_fixed_reads(reads)
    finally:
        raw.cursor_factory = default
    assert [_values(rows) for rows in together] == [_values(rows) for rows in alone]
    assert statements(queries) == len(queries) == 2
