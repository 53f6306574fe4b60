"""Adopting orders placed before order_updates was installed, and auto-tracking."""

import io

import pytest
from django.core.management import CommandError, call_command

from order_updates import services
from order_updates.models import EventKind, OrderEvent, OrderState


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("order_updates_track", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_tracks_untracked_orders_in_batches(make_order):
    orders = [make_order() for _ in range(7)]
    services.set_status(orders[0], "confirmed")  # already tracked
    out, err = run("--batch-size", "3")
    assert "Started tracking 6 order(s)." in out
    # One progress line per batch (stderr is not a terminal here).
    assert err.splitlines() == [
        "[###############...............] 3/6",
        "[##############################] 6/6",
    ]
    assert OrderState.objects.count() == 7
    for order in orders[1:]:
        state = OrderState.objects.get(order_id=order.pk)
        assert (state.status, state.last_sequence) == ("placed", 1)
        event = OrderEvent.objects.get(order_id=order.pk)
        assert (event.kind, event.sequence, event.actor_label) == (
            EventKind.TRACKING_STARTED,
            1,
            "system",
        )
    assert OrderState.objects.get(order_id=orders[0].pk).status == "confirmed"


def test_command_is_safe_to_run_again(make_order):
    make_order()
    run()
    out, _ = run()
    assert "0 order(s) to start tracking." in out
    assert OrderEvent.objects.count() == 1


def test_command_with_status_and_dry_run(make_order):
    orders = [make_order() for _ in range(2)]
    out, _ = run("--dry-run")
    assert "2 order(s) to start tracking." in out
    assert not OrderState.objects.exists()
    run("--status", "delivered", "-v", "0")
    assert {services.get_status(o).code for o in orders} == {"delivered"}


def test_command_rejects_bad_input(make_order):
    with pytest.raises(CommandError, match="Unknown order status 'shipped_maybe'"):
        run("--status", "shipped_maybe")
    with pytest.raises(CommandError, match="at least 1"):
        run("--batch-size", "0")


def test_track_existing_orders_reports_progress(make_order):
    for _ in range(5):
        make_order()
    calls = []
    count = services.track_existing_orders(
        batch_size=2, progress=lambda done, total: calls.append((done, total))
    )
    assert count == 5
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_auto_tracking_of_new_orders(make_order, settings):
    assert not OrderState.objects.exists()
    make_order()
    assert not OrderState.objects.exists()  # off by default

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "TRACK_NEW_ORDERS": True}
    order = make_order()
    assert services.get_status(order).code == "placed"
    assert OrderEvent.objects.get(order_id=order.pk).actor_label == "system"
    order.save()  # an update is no new order
    assert OrderEvent.objects.filter(order_id=order.pk).count() == 1
