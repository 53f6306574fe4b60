"""Publishing after commit: one round of task messages per transaction."""

import pytest
from django.db import transaction

from order_updates import services
from order_updates.models import Notification
from order_updates.notifications import queue


@pytest.fixture
def published(monkeypatch):
    """The batches publish_due() is called with, instead of the broker."""
    calls = []
    monkeypatch.setattr(
        queue, "publish_due", lambda rows, task=queue.DELIVER_TASK: calls.append(rows)
    )
    return calls


def test_one_transaction_publishes_once(
    make_order, published, django_capture_on_commit_callbacks
):
    # A view that changes several orders: one round of messages after the commit
    # (with a broker that hangs, one timeout, not one per change).
    orders = [make_order() for _ in range(3)]
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        for order in orders:
            services.set_status(order, "confirmed")
    assert len(published) == 1
    assert sorted(pk for pk, _due in published[0]) == sorted(
        Notification.objects.values_list("pk", flat=True)
    )
    assert len(published[0]) >= len(orders)
    # One callback per change (one survives any savepoint's rollback); the
    # first publishes the batch, the others find nothing left.
    assert len([c for c in callbacks if c.__name__ == "flush"]) == len(orders)


def test_each_transaction_publishes_its_own(
    make_order, published, django_capture_on_commit_callbacks
):
    first, second = make_order(), make_order()
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(first, "confirmed")
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(second, "confirmed")
    assert len(published) == 2


def test_a_rolled_back_savepoint_keeps_the_batch_published(
    make_order, published, django_capture_on_commit_callbacks
):
    # The first change's callback is in a savepoint that is rolled back; the
    # second's survives and publishes what the transaction queued.
    first, second = make_order(), make_order()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        try:
            with transaction.atomic():
                services.set_status(first, "confirmed")
                raise RuntimeError("a step of the view failed")
        except RuntimeError:
            pass
        services.set_status(second, "confirmed")
    assert len(published) == 1
    kept = set(Notification.objects.values_list("pk", flat=True))
    assert kept and kept <= {pk for pk, _due in published[0]}
