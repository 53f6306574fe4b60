"""Several threads change one order at once: the row lock keeps the timeline whole.

PostgreSQL only: SQLite serialises writers on the whole database and has no row
locks to test.
"""

import contextlib
import datetime
import logging
import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from order_updates import services
from order_updates.core import alerts
from order_updates.core.adapter import get_adapter
from order_updates.exceptions import InvalidTransition
from order_updates.models import EventKind, OrderEvent, OrderState, Shipment
from tests.test_status_sync import SHOP_STATUS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
ROUNDS = 15


def run_in_threads(target):
    barrier = threading.Barrier(THREADS)
    errors = []
    results = []

    def worker(index):
        try:
            barrier.wait()
            results.append(target(index))
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return results


def assert_valid_chain(order):
    events = list(OrderEvent.objects.filter(order_id=order.pk).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == EventKind.TRACKING_STARTED
    assert sum(e.kind == EventKind.TRACKING_STARTED for e in events) == 1
    current = events[0].to_status
    for event in events[1:]:
        assert event.from_status == current, "event %d broke the chain" % event.sequence
        current = event.to_status
    state = OrderState.objects.get(order_id=order.pk)
    assert state.status == current
    assert state.last_sequence == len(events)
    return events


def test_concurrent_status_changes_keep_a_valid_chain(make_order):
    assert connection.vendor == "postgresql"
    order = make_order()
    services.start_tracking(order)

    def toggle(index):
        # Every thread flips placed <-> on_hold; half start from the other side,
        # so many calls race for the same transition and must see each other.
        made = 0
        for round_ in range(ROUNDS):
            target = "on_hold" if (round_ + index) % 2 == 0 else "placed"
            try:
                if services.set_status(order, target, actor="thread-%d" % index):
                    made += 1
            except InvalidTransition:
                pass
        return made

    made = sum(run_in_threads(toggle))
    events = assert_valid_chain(order)
    changes = [e for e in events if e.kind == EventKind.STATUS_CHANGED]
    assert len(changes) == made
    assert made >= ROUNDS  # the threads really did interleave changes


def test_concurrent_first_changes_start_tracking_once(make_order):
    order = make_order()

    def first_touch(index):
        try:
            return services.set_status(order, "confirmed" if index % 2 else "on_hold")
        except InvalidTransition:
            return None

    results = run_in_threads(first_touch)
    events = assert_valid_chain(order)
    # Exactly one of the racing threads moved the order off "placed"; the other
    # target is then either a no-op, forbidden, or a legal next step.
    assert len([e for e in events if e.kind == EventKind.STATUS_CHANGED]) == len(
        [r for r in results if r is not None]
    )


def test_bulk_and_single_changes_race_safely(make_order):
    orders = [make_order() for _ in range(40)]

    def work(index):
        if index % 2:
            return services.bulk_set_status(orders, "on_hold").changed
        changed = []
        for order in reversed(orders):
            try:
                if services.set_status(order, "confirmed"):
                    changed.append(order.pk)
            except InvalidTransition:
                pass
        return changed

    run_in_threads(work)
    for order in orders:
        assert_valid_chain(order)


def wait_until_another_waits_for_a_lock(timeout=30):
    """Return once another session of this database waits for a lock: the
    change, blocked by what this transaction holds, and holding by then what
    it locks first (so the deadlock is sure, however slow the machine)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                "current_database() AND pid <> pg_backend_pid() AND "
                "wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("The change never waited for a lock.")


@contextlib.contextmanager
def holding_then_wanting_the_state(order, take_first, want=None):
    """Another transaction that takes a row a change needs after the state row
    of ``order`` (``take_first()``), then, once the change holds that state
    row, wants it (``want()``, by default a lock of the row): a deadlock the
    change detects first (it has waited longer) and loses. Yields the other
    transaction's errors; it is over on leaving."""
    holding = threading.Event()
    errors = []

    def other_transaction():
        try:
            with transaction.atomic():
                # PostgreSQL looks for a circle once, deadlock_timeout after a
                # session starts waiting: the change looks after 3 s, by when
                # this transaction waits too, however busy the machine; this
                # one only after 30 s, so the change is always the one aborted.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL deadlock_timeout = '30s'")
                take_first()
                holding.set()
                wait_until_another_waits_for_a_lock()
                if want is None:
                    OrderState.objects.select_for_update().get(order_id=order.pk)
                else:
                    want()
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    with connection.cursor() as cursor:
        cursor.execute("SET deadlock_timeout = '3s'")
    thread = threading.Thread(target=other_transaction)
    thread.start()
    assert holding.wait(10)
    try:
        yield errors
    finally:
        thread.join(60)
        with connection.cursor() as cursor:
            cursor.execute("RESET deadlock_timeout")


@contextlib.contextmanager
def deadlocking_bulk_change(make_order):
    """Two tracked orders, and another transaction that holds the second's row,
    then wants the first's, which a bulk change of both (waiting for the
    second) holds by then: a deadlock, which the bulk change detects first (it
    has waited longer) and loses. Yields the orders and the other
    transaction's errors; the other transaction is over on leaving."""
    first, second = sorted((make_order() for _ in range(2)), key=lambda o: o.pk)
    for order in (first, second):
        services.start_tracking(order, notify=False)

    def take_second():
        OrderState.objects.select_for_update().get(order_id=second.pk)

    with holding_then_wanting_the_state(first, take_second) as errors:
        yield first, second, errors


def test_a_bulk_change_chosen_to_break_a_deadlock_runs_again(make_order, caplog):
    with (
        deadlocking_bulk_change(make_order) as (first, second, errors),
        caplog.at_level(logging.INFO, logger="order_updates.core.events"),
    ):
        result = services.bulk_set_status([first, second], "confirmed", notify=False)
    assert errors == []
    assert sorted(result.changed) == [first.pk, second.pk]
    assert "chosen to break a deadlock; running it again" in caplog.text
    for order in (first, second):
        assert OrderState.objects.get(order_id=order.pk).status == "confirmed"
        assert_valid_chain(order)


def test_a_deadlock_inside_the_callers_transaction_reaches_the_caller(make_order):
    with (
        deadlocking_bulk_change(make_order) as (first, second, _errors),
        pytest.raises(OperationalError, match="deadlock"),
        transaction.atomic(),
    ):
        services.bulk_set_status([first, second], "confirmed", notify=False)
    assert OrderState.objects.get(order_id=first.pk).status == "placed"


def _lock_order(order):
    return lambda: type(order)._default_manager.select_for_update().get(pk=order.pk)


def _lock_shipment(shipment):
    return lambda: Shipment.objects.select_for_update().get(pk=shipment.pk)


def _shipped(order, days_ago=0):
    return services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        shipped_at=timezone.now() - datetime.timedelta(days=days_ago),
        notify=False,
    )


# Single-order changes, each with what the other transaction takes first: the
# shop's order (the change's new rows point to it) or the shipment it locks.


def _add_shipment(order):
    return _lock_order(order), lambda: services.add_shipment(
        order, carrier="dhl", tracking_number="JD014600006281234567"
    )


def _add_shipment_of_generated_items(order):
    # A generator is read once: the attempt run again must see its items too.
    line = next(iter(get_adapter().get_line_quantities(order)))
    items = ({"line": key, "quantity": 1} for key in [line])
    return _lock_order(order), lambda: services.add_shipment(order, items=items)


def _update_shipment(order):
    shipment = _shipped(order)
    return _lock_shipment(shipment), lambda: services.update_shipment(
        shipment, service="Express"
    )


def _record_tracking_events(order):
    shipment = _shipped(order)
    scans = [services.Scan(occurred_at=timezone.now(), status="in_transit")]
    return _lock_shipment(shipment), lambda: services.record_tracking_events(
        shipment, scans
    )


def _set_estimated_delivery(order):
    shipment = _shipped(order)
    day = timezone.localdate() + datetime.timedelta(days=3)
    return _lock_shipment(shipment), lambda: services.set_estimated_delivery(
        shipment, day
    )


def _report_stuck_shipment(order):
    shipment = _shipped(order, days_ago=10)
    return _lock_shipment(shipment), lambda: alerts.report_stuck_shipment(
        shipment, days=3
    )


def _report_overdue_status(order):
    state = OrderState.objects.get(order_id=order.pk)
    return _lock_order(order), lambda: alerts.report_overdue_status(state, days=0)


SINGLE_CHANGES = {
    setup.__name__.lstrip("_"): setup
    for setup in (
        _add_shipment,
        _add_shipment_of_generated_items,
        _update_shipment,
        _record_tracking_events,
        _set_estimated_delivery,
        _report_stuck_shipment,
        _report_overdue_status,
    )
}


@pytest.mark.parametrize("change", SINGLE_CHANGES)
def test_a_single_change_chosen_to_break_a_deadlock_runs_again(
    make_order, caplog, change
):
    order = make_order()
    services.start_tracking(order, notify=False)
    take_first, run_change = SINGLE_CHANGES[change](order)
    before = OrderEvent.objects.filter(order_id=order.pk).count()
    with (
        holding_then_wanting_the_state(order, take_first) as errors,
        caplog.at_level(logging.INFO, logger="order_updates.core.events"),
    ):
        result = run_change()
    assert errors == []
    assert result is not None
    assert "chosen to break a deadlock; running it again" in caplog.text
    if change == "add_shipment_of_generated_items":
        assert len(Shipment.objects.get(pk=result.pk).items) == 1
    # The attempt PostgreSQL aborted left nothing: the change's events once,
    # numbered without a gap.
    sequences = list(
        OrderEvent.objects.filter(order_id=order.pk)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert len(sequences) > before
    assert sequences == list(range(1, len(sequences) + 1))
    assert OrderState.objects.get(order_id=order.pk).last_sequence == len(sequences)


def test_sync_from_shop_chosen_to_break_a_deadlock_runs_again(
    make_order, settings, caplog
):
    field, mapping = SHOP_STATUS[settings.TEST_SHOP]
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_FIELD": field,
        "STATUS_MAP": mapping,
    }
    paid = next(value for value, code in mapping.items() if code == "confirmed")
    order = make_order()
    services.start_tracking(order, notify=False)
    model = type(order)
    model.objects.filter(pk=order.pk).update(**{field: paid})  # no signal
    with (
        holding_then_wanting_the_state(order, _lock_order(order)) as errors,
        caplog.at_level(logging.INFO, logger="order_updates.core.events"),
    ):
        moved = services.sync_from_shop(model.objects.filter(pk=order.pk))
    assert errors == []
    assert moved == [order.pk]
    assert "chosen to break a deadlock; running it again" in caplog.text
    assert services.get_status(order).code == "confirmed"
    assert [event.kind for event in assert_valid_chain(order)] == [
        EventKind.TRACKING_STARTED,
        EventKind.STATUS_CHANGED,
    ]


def test_a_batch_of_track_existing_orders_chosen_to_break_a_deadlock_runs_again(
    make_order, caplog
):
    # The shop's checkout holds its order row, then starts tracking the order,
    # while the back catalogue is being adopted: the batch has created the
    # order's state row and waits for the order row (the state row's key).
    order = make_order()

    def start_tracking():
        services.start_tracking(order, notify=False)

    with (
        holding_then_wanting_the_state(
            order, _lock_order(order), want=start_tracking
        ) as errors,
        caplog.at_level(logging.INFO, logger="order_updates.core.events"),
    ):
        adopted = services.track_existing_orders(
            type(order).objects.filter(pk=order.pk)
        )
    assert errors == []
    assert "chosen to break a deadlock; running it again" in caplog.text
    # The checkout started tracking it once the batch was aborted; the batch,
    # run again, finds it started: one "tracking started", counted by neither twice.
    assert adopted == 0
    assert [event.kind for event in assert_valid_chain(order)] == [
        EventKind.TRACKING_STARTED
    ]
