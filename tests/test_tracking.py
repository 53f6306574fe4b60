"""Carrier scans on shipments: normalized status, replays, reordering, the order
following its shipments, estimates, and one notification per change."""

import datetime

import pytest
from django.utils import timezone

from order_updates import services, signals
from order_updates.exceptions import InvalidInput
from order_updates.models import (
    DeliveryEstimate,
    EventKind,
    Notification,
    OrderEvent,
    Shipment,
    TrackingEvent,
)
from order_updates.services import Scan

T0 = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.timezone.utc)


def scan(status, hours=0, **fields):
    return Scan(
        occurred_at=T0 + datetime.timedelta(hours=hours), status=status, **fields
    )


def emails(order):
    """The notification types the customer's email got, in order."""
    return list(
        Notification.objects.filter(order_id=order.pk, channel="email")
        .order_by("pk")
        .values_list("type", flat=True)
    )


def kinds(order):
    return list(
        OrderEvent.objects.filter(order_id=order.pk).values_list("kind", flat=True)
    )


@pytest.fixture
def shipment(order):
    services.set_status(order, "confirmed", notify=False)
    services.set_status(order, "processing", notify=False)
    return services.add_shipment(
        order, carrier="ups", tracking_number="1Z1", notify=False
    )


def test_scans_set_the_normalized_status_and_the_order_follows(order, shipment):
    result = services.record_tracking_events(
        shipment,
        [
            scan("info_received", 0, raw_status="MP", message="Label created"),
            scan("in_transit", 5, location="Köln, DE", raw_status="I"),
        ],
        source="generic",
    )
    shipment.refresh_from_db()
    assert len(result.added) == 2
    assert (shipment.tracking_status, shipment.last_scan_at) == (
        "in_transit",
        T0 + datetime.timedelta(hours=5),
    )
    assert shipment.shipped_at == T0 + datetime.timedelta(hours=5)
    assert services.get_status(order).code == "shipped"
    stored = TrackingEvent.objects.get(raw_status="I")
    assert (stored.location, stored.source, stored.occurred_at.tzinfo is not None) == (
        "Köln, DE",
        "generic",
        True,
    )
    # One message: the order's "shipped", not also a tracking update.
    assert emails(order) == ["shipped"]
    event = OrderEvent.objects.get(kind=EventKind.TRACKING_UPDATED)
    assert event.data["tracking_status"] == "in_transit"
    assert event.actor_label == "carrier:ups"


def test_replays_are_harmless(order, shipment):
    scans = [scan("in_transit", 1, event_id="e1"), scan("in_transit", 2)]
    services.record_tracking_events(shipment, scans)
    before = (kinds(order), emails(order), TrackingEvent.objects.count())
    again = services.record_tracking_events(shipment, scans)
    assert again.added == [] and again.events == []
    assert (kinds(order), emails(order), TrackingEvent.objects.count()) == before


def test_the_newest_scan_decides_whatever_the_arrival_order(order, shipment):
    services.record_tracking_events(shipment, [scan("out_for_delivery", 10)])
    late_arrival = services.record_tracking_events(shipment, [scan("in_transit", 2)])
    shipment.refresh_from_db()
    assert len(late_arrival.added) == 1 and not late_arrival.status_changed
    assert shipment.tracking_status == "out_for_delivery"
    assert services.get_status(order).code == "out_for_delivery"


def test_one_notification_per_change_never_per_scan(order, shipment):
    for hours in range(1, 6):
        services.record_tracking_events(shipment, [scan("in_transit", hours)])
    services.record_tracking_events(shipment, [scan("out_for_delivery", 7)])
    services.record_tracking_events(shipment, [scan("out_for_delivery", 8)])
    services.record_tracking_events(
        shipment, [scan("delivered", 9, substatus="signed")]
    )
    assert emails(order) == ["shipped", "out_for_delivery", "delivered"]
    shipment.refresh_from_db()
    assert shipment.delivered_at == T0 + datetime.timedelta(hours=9)
    assert shipment.tracking_substatus == "signed"


def test_a_failed_attempt_tells_the_problem_not_shipped_again(order, shipment):
    services.record_tracking_events(shipment, [scan("out_for_delivery", 1)])
    services.record_tracking_events(
        shipment, [scan("attempt_fail", 2, substatus="recipient_unavailable")]
    )
    assert services.get_status(order).code == "shipped"  # back, as the pipeline allows
    assert emails(order) == ["out_for_delivery", "delivery_exception"]


def test_a_new_reason_for_the_same_status_is_recorded_not_announced(order, shipment):
    services.record_tracking_events(
        shipment, [scan("exception", 1, substatus="customs")]
    )
    result = services.record_tracking_events(
        shipment, [scan("exception", 2, substatus="address")]
    )
    shipment.refresh_from_db()
    assert shipment.tracking_substatus == "address"
    assert [e.notify for e in result.events] == [False]
    assert emails(order) == ["delivery_exception"]


def test_an_exception_as_first_scan_ships_the_order_and_tells_the_problem(
    order, shipment
):
    services.record_tracking_events(
        shipment, [scan("exception", 1, substatus="customs")]
    )
    assert services.get_status(order).code == "shipped"
    assert emails(order) == ["delivery_exception"]


def test_split_shipping_with_items(make_order, settings):
    if settings.TEST_SHOP != "plainshop":
        pytest.skip("the customershop has no order lines")
    order = make_order()
    services.set_status(order, "confirmed", notify=False)
    services.set_status(order, "processing", notify=False)
    lines = services_lines(order)
    mug, tea = lines
    first = services.add_shipment(
        order,
        carrier="dhl_paket",
        tracking_number="A1",
        items=[{"line": mug, "quantity": 2}],
        shipped_at=T0,
    )
    assert services.get_status(order).code == "partially_shipped"
    with pytest.raises(InvalidInput, match="only 0 of line"):
        services.add_shipment(order, items=[{"line": mug, "quantity": 1}])
    with pytest.raises(InvalidInput, match="has no line"):
        services.add_shipment(order, items=[{"line": "999", "quantity": 1}])
    second = services.add_shipment(
        order,
        carrier="gls",
        tracking_number="B2",
        items=[{"line": tea, "quantity": 1}],
        shipped_at=T0,
    )
    assert services.get_status(order).code == "shipped"
    services.record_tracking_events(first, [scan("delivered", 30)])
    assert services.get_status(order).code == "shipped"  # one of two parcels
    services.record_tracking_events(second, [scan("out_for_delivery", 31)])
    assert services.get_status(order).code == "out_for_delivery"
    services.record_tracking_events(second, [scan("delivered", 33)])
    assert services.get_status(order).code == "delivered"
    assert emails(order) == [
        "shipped",  # partially: the first parcel
        "shipped",  # the rest
        "shipping_update",  # the first parcel arrived
        "out_for_delivery",
        "delivered",
    ]


def services_lines(order):
    from order_updates.core.adapter import get_adapter

    return list(get_adapter().get_line_quantities(order))


def test_staff_may_still_set_statuses_and_scans_do_not_undo_them(order, shipment):
    services.set_status(order, "shipped")
    services.set_status(order, "delivered")
    services.record_tracking_events(shipment, [scan("in_transit", 1)])
    assert services.get_status(order).code == "delivered"


def test_a_cancelled_order_stays_cancelled(order):
    services.set_status(order, "cancelled", notify=False)
    shipment = services.add_shipment(order, tracking_number="X", notify=False)
    services.record_tracking_events(shipment, [scan("delivered", 1)])
    assert services.get_status(order).code == "cancelled"


def test_a_shipment_added_as_shipped_moves_the_order(order):
    services.set_status(order, "confirmed", notify=False)
    services.set_status(order, "processing", notify=False)
    services.add_shipment(order, carrier="ups", tracking_number="1Z2", shipped_at=T0)
    assert services.get_status(order).code == "shipped"
    assert emails(order) == ["shipped"]


@pytest.mark.parametrize("start", ["placed", "confirmed"])
def test_a_shipment_that_left_moves_an_order_not_yet_processing(order, start):
    # Shops that ship without a "processing" step: the order follows its parcel.
    services.start_tracking(order, notify=False)
    if start != "placed":
        services.set_status(order, start, notify=False)
    services.add_shipment(order, carrier="ups", tracking_number="1Z2", shipped_at=T0)
    assert services.get_status(order).code == "shipped"
    assert emails(order) == ["shipped"]


def test_a_shipping_time_in_the_future_is_refused(order):
    services.start_tracking(order, notify=False)
    later = timezone.now() + datetime.timedelta(hours=1)
    with pytest.raises(InvalidInput, match="shipped_at is in the future"):
        services.add_shipment(order, tracking_number="1Z4", shipped_at=later)
    assert not Shipment.objects.exists()
    assert services.get_status(order).code == "placed"
    # Another clock a few minutes ahead of this one is no typo.
    soon = timezone.now() + datetime.timedelta(minutes=5)
    services.add_shipment(order, tracking_number="1Z4", shipped_at=soon)
    assert services.get_status(order).code == "shipped"


def test_bad_scans_are_refused_before_anything_is_written(order, shipment):
    with pytest.raises(InvalidInput, match="unknown tracking status 'lost'"):
        services.record_tracking_events(shipment, [scan("in_transit"), scan("lost")])
    with pytest.raises(InvalidInput, match="unknown sub-status"):
        services.record_tracking_events(shipment, [scan("exception", substatus="x")])
    with pytest.raises(InvalidInput, match=r"scans\[0\].message must be a str"):
        services.record_tracking_events(shipment, [scan("in_transit", message=3)])
    naive = Scan(occurred_at=datetime.datetime(2026, 1, 1), status="in_transit")
    with pytest.raises(InvalidInput, match="timezone-aware"):
        services.record_tracking_events(shipment, [naive])
    with pytest.raises(InvalidInput, match=r"scans\[1\].location is not valid Unicode"):
        services.record_tracking_events(
            shipment, [scan("in_transit"), scan("in_transit", location="Ly\ud800on")]
        )
    assert not TrackingEvent.objects.exists()


def test_nul_characters_in_scans_are_removed(order, shipment):
    """PostgreSQL cannot store them (it raised DataError); nobody means one."""
    services.record_tracking_events(
        shipment,
        [
            scan(
                "in_transit",
                location="Ly\x00on",
                raw_status="I\x00T",
                message="Arrived\x00",
                event_id="e\x001",
            )
        ],
    )
    stored = TrackingEvent.objects.get()
    assert (stored.location, stored.raw_status, stored.message) == (
        "Lyon",
        "IT",
        "Arrived",
    )
    assert stored.dedupe_key == "id:e1"
    assert services.find_shipments("1Z\x00") == []


@pytest.mark.django_db(transaction=True)
def test_signal_after_commit(order, shipment, capture_signal):
    calls = capture_signal(signals.tracking_updated)
    services.record_tracking_events(shipment, [scan("in_transit", 1)])
    assert [(c["old_status"], c["new_status"]) for c in calls] == [
        ("pending", "in_transit")
    ]


def test_further_tracking_numbers_find_their_shipment(order):
    shipment = services.add_shipment(
        order, tracking_number="P1", more_tracking_numbers=["P2", "P3"], notify=False
    )
    assert services.find_shipments("P3") == [shipment]
    assert services.find_shipments("P9") == []
    result = services.bulk_add_shipments(
        [(order, {"tracking_number": "Q1", "more_tracking_numbers": ["Q2"]})]
    )
    assert services.find_shipments("Q2") == result.shipments


def test_unknown_carrier_is_free_text_with_an_optional_link(order):
    from order_updates.notifications.templating.context import shipment_context

    shipment = services.add_shipment(
        order,
        carrier_name="Bob's Bikes",
        tracking_url="https://bob.example/t/1",
        notify=False,
    )
    data = shipment_context(shipment, datetime.timezone.utc)
    assert (data["carrier_name"], data["tracking_url"]) == (
        "Bob's Bikes",
        "https://bob.example/t/1",
    )
    known = services.add_shipment(order, carrier="royal_mail", tracking_number="RB1GB")
    data = shipment_context(known, datetime.timezone.utc)
    assert data["carrier_name"] == "Royal Mail"
    assert data["tracking_url"].endswith("/tracking-results/RB1GB")


# Estimates ---------------------------------------------------------------------------


def test_estimate_revisions_and_the_customer_told_when_later(order, shipment):
    day = datetime.date(2026, 12, 1)
    first = services.set_estimated_delivery(shipment, day)
    assert first is not None and not first.notify
    assert services.set_estimated_delivery(shipment, day) is None  # unchanged
    earlier = services.set_estimated_delivery(shipment, day - datetime.timedelta(1))
    assert not earlier.notify
    later = services.set_estimated_delivery(
        shipment, day, day + datetime.timedelta(days=2), message="Storms."
    )
    assert later.notify and later.data["later"]
    assert emails(order) == ["delayed"]
    shipment.refresh_from_db()
    assert (shipment.estimated_delivery_from, shipment.estimated_delivery_to) == (
        day,
        day + datetime.timedelta(days=2),
    )
    assert DeliveryEstimate.objects.filter(shipment=shipment).count() == 3
    with pytest.raises(InvalidInput, match="before the earliest"):
        services.set_estimated_delivery(shipment, day, day - datetime.timedelta(1))
    with pytest.raises(InvalidInput, match="must be a date"):
        services.set_estimated_delivery(shipment, timezone.now())


def test_a_later_estimate_for_a_delivered_parcel_is_no_delay(order, shipment):
    day = datetime.date(2026, 11, 21)
    services.set_estimated_delivery(shipment, day)
    services.record_tracking_events(shipment, [scan("delivered", 1)])
    event = services.set_estimated_delivery(shipment, day + datetime.timedelta(days=3))
    assert not event.notify
    assert "delayed" not in emails(order)


def test_carrier_estimate_comes_with_scans(order, shipment):
    estimate = services.Estimate(
        datetime.date(2026, 11, 23), datetime.date(2026, 11, 24)
    )
    services.record_tracking_events(
        shipment, [scan("in_transit", 1)], estimate=estimate
    )
    revision = DeliveryEstimate.objects.get(shipment=shipment)
    assert (revision.source, revision.latest) == ("carrier", estimate.latest)


def test_default_transit_time_per_carrier_and_service(order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CARRIERS": {"ups": {"transit_days": {"": [2, 4], "express": 1}}},
    }
    shipped = services.add_shipment(
        order, carrier="ups", tracking_number="1Z3", shipped_at=T0, notify=False
    )
    express = services.add_shipment(
        order,
        carrier="ups",
        service="express",
        tracking_number="1Z4",
        shipped_at=T0,
        notify=False,
    )
    not_yet = services.add_shipment(order, carrier="ups", tracking_number="1Z5")
    shipped.refresh_from_db()
    express.refresh_from_db()
    not_yet.refresh_from_db()
    assert (shipped.estimated_delivery_from, shipped.estimated_delivery_to) == (
        datetime.date(2026, 11, 22),
        datetime.date(2026, 11, 24),
    )
    assert express.estimated_delivery_to == datetime.date(2026, 11, 21)
    assert not_yet.estimated_delivery_to is None
    # It leaves with its first scan: then it gets its default estimate.
    services.record_tracking_events(not_yet, [scan("in_transit", 0)])
    not_yet.refresh_from_db()
    assert not_yet.estimated_delivery_to == datetime.date(2026, 11, 24)
    assert set(DeliveryEstimate.objects.values_list("source", flat=True)) == {"default"}


def test_staff_estimate_wins_over_the_default(order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "DEFAULT_TRANSIT_DAYS": 3}
    shipment = services.add_shipment(
        order,
        carrier="ups",
        shipped_at=T0,
        estimated_delivery=(datetime.date(2026, 11, 21), datetime.date(2026, 11, 22)),
        notify=False,
    )
    shipment.refresh_from_db()
    assert shipment.estimated_delivery_to == datetime.date(2026, 11, 22)
    assert list(DeliveryEstimate.objects.values_list("source", flat=True)) == ["staff"]


def test_the_delayed_email_shows_the_new_estimate_and_the_carrier_link(order, shipment):
    from order_updates.notifications.channels.email import EmailChannel
    from order_updates.notifications.templating import render_notification

    day = datetime.date(2026, 12, 1)
    services.set_estimated_delivery(shipment, day)
    services.set_estimated_delivery(
        shipment, day + datetime.timedelta(days=1), day + datetime.timedelta(days=2)
    )
    row = Notification.objects.get(order_id=order.pk, type="delayed", channel="email")
    rendered = render_notification(row, order, EmailChannel("email"))
    text = rendered["text"]
    assert "Estimated delivery: Dec. 2, 2026 – Dec. 3, 2026" in text
    assert "Carrier: UPS" in text
    assert "Tracking link: https://www.ups.com/track?loc=en_US&tracknum=1Z1" in text


def test_default_estimates_for_a_shipping_wave_in_a_few_statements(
    make_order, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "DEFAULT_TRANSIT_DAYS": 2}
    orders = [make_order() for _ in range(20)]
    wave = [(order, {"carrier": "dpd", "shipped_at": T0}) for order in orders]
    with CaptureQueriesContext(connection) as queries:
        services.bulk_add_shipments(wave, notify=False)
    estimate_statements = [
        q["sql"]
        for q in queries.captured_queries
        if "order_updates_deliveryestimate" in q["sql"]
        or q["sql"].startswith('UPDATE "order_updates_shipment"')
    ]
    assert len(estimate_statements) == 2  # one UPDATE, one INSERT
    assert DeliveryEstimate.objects.filter(source="default").count() == 20


def test_a_pipeline_without_partially_shipped_goes_to_shipped(make_order, settings):
    import copy

    from order_updates.pipeline import DEFAULT_PIPELINE

    if settings.TEST_SHOP != "plainshop":
        pytest.skip("the customershop has no order lines")
    pipeline = copy.deepcopy(DEFAULT_PIPELINE)
    pipeline["statuses"] = [
        {
            **status,
            "transitions": [
                t for t in status["transitions"] if t != "partially_shipped"
            ],
        }
        for status in pipeline["statuses"]
        if status["code"] != "partially_shipped"
    ]
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "PIPELINE": pipeline}
    order = make_order()
    services.set_status(order, "confirmed", notify=False)
    services.set_status(order, "processing", notify=False)
    line = services_lines(order)[0]
    services.add_shipment(order, items=[{"line": line, "quantity": 1}], shipped_at=T0)
    assert services.get_status(order).code == "shipped"


def test_a_replay_costs_a_few_reads_and_writes_nothing(
    order, shipment, django_assert_num_queries
):
    scans = [scan("in_transit", 1), scan("in_transit", 2, message="Hub")]
    services.record_tracking_events(shipment, scans)
    # Savepoint, lock the state row, lock the shipment, look the scans up, release.
    with django_assert_num_queries(5):
        services.record_tracking_events(shipment, scans)


# Changing a shipment ---------------------------------------------------------------


def test_update_shipment_corrects_a_number_and_tells_the_customer(order, shipment):
    event = services.update_shipment(
        shipment, tracking_number="1Z5R89390357567127", actor="warehouse"
    )
    shipment.refresh_from_db()
    assert shipment.tracking_number == "1Z5R89390357567127"
    assert event.kind == EventKind.SHIPMENT_UPDATED
    assert event.data["changed"] == ["tracking_number"]
    assert event.data["before"] == {"tracking_number": "1Z1"}
    assert emails(order) == ["shipping_update"]
    assert (
        services.update_shipment(shipment, tracking_number="1Z5R89390357567127") is None
    )
    assert services.find_shipments("1Z5R89390357567127") == [shipment]


def test_update_shipment_when_it_leaves_moves_the_order(order, shipment):
    services.update_shipment(shipment, shipped_at=T0, message="Picked up today.")
    assert services.get_status(order).code == "shipped"
    assert emails(order) == ["shipped"]
    moved = OrderEvent.objects.filter(order_id=order.pk).order_by("sequence").last()
    assert (moved.to_status, moved.message) == ("shipped", "Picked up today.")


def test_update_shipment_refuses_bad_values(order, shipment):
    with pytest.raises(InvalidInput, match="tracking_url"):
        services.update_shipment(shipment, tracking_url="not a link")
    with pytest.raises(TypeError, match="Unknown shipment fields weight"):
        services.update_shipment(shipment, weight=3)
    shipment.refresh_from_db()
    assert shipment.tracking_url == ""
