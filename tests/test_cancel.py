"""Cancelling a pending notification (the notification log's cancel button)."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from order_updates import services
from order_updates.models import Notification, NotificationState
from order_updates.notifications import delivery


@pytest.fixture
def row(make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    return Notification.objects.get(order_id=order.pk, channel="email")


def reload(notification):
    return Notification.objects.get(pk=notification.pk)


def test_a_cancelled_row_is_never_sent(row, django_user_model):
    staff = django_user_model.objects.create_user("kim", "kim@example.com", "pw")
    assert delivery.cancel(row, user=staff) is True
    row = reload(row)
    assert row.state == NotificationState.SKIPPED
    assert row.reason == "Cancelled by kim."
    assert delivery.deliver(row.pk) == delivery.NOT_CLAIMED
    assert mail.outbox == []
    # Only pending rows can be cancelled: a second cancel does nothing.
    assert delivery.cancel(row) is False


def test_a_claimed_row_cannot_be_cancelled(row):
    assert delivery.claim(row.pk)
    assert delivery.cancel(row) is False
    assert reload(row).state == NotificationState.SENDING


@pytest.mark.parametrize("state", ["sent", "delivered", "failed", "bounced"])
def test_rows_that_moved_on_cannot_be_cancelled(row, state):
    Notification.objects.filter(pk=row.pk).update(state=state)
    assert delivery.cancel(row) is False
    assert reload(row).state == state


def test_a_send_that_outlived_its_lease_wins_over_a_cancel(row):
    """The sweeper took the row back, staff cancelled it, then the stalled worker's
    provider accepted the message: it went out, so the row says sent.
    """
    from order_updates.notifications.channels import get_channel

    channel = get_channel("email")
    original = channel.send

    def slow_send(message):
        result = original(message)
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
            assert delivery.sweep()["recovered"] == 1  # meanwhile, elsewhere
        assert delivery.cancel(Notification(pk=message.notification_id)) is True
        return result

    channel.send = slow_send
    try:
        assert delivery.deliver(row.pk) == delivery.SENT
    finally:
        del channel.send
    assert reload(row).state == NotificationState.SENT
    assert len(mail.outbox) == 1


def test_a_cancelled_row_can_be_sent_again(row, broker_queue):
    assert delivery.cancel(row)
    assert delivery.resend(reload(row)) is True
    assert delivery.deliver(row.pk) == delivery.SENT
