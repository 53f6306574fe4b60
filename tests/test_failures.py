"""A notification's failure (or bounce) and its webhook deliveries commit together.

The worker's batch, the sweeper (a lost lease on the last attempt) and delivery
feedback (a bounce) each record the failure and write the "notification.failed"
or "notification.bounced" deliveries in one transaction: should writing the
deliveries fail, the failure is not recorded either, and the row is left to be
retried or swept. ``notification_failed`` follows the commit, and its receivers
can break neither.
"""

import datetime
import json
import logging

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from order_updates import services, signals
from order_updates.exceptions import PermanentChannelError
from order_updates.models import (
    DeliveryFeedback,
    Notification,
    NotificationState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from order_updates.notifications import delivery, feedback
from order_updates.notifications.channels import test as test_channel
from order_updates.webhooks import events


class WriteFailed(RuntimeError):
    pass


@pytest.fixture
def endpoint(db):
    return WebhookEndpoint.objects.create(
        url="https://hooks.example.com/orders",
        event_types=[
            WebhookEventType.NOTIFICATION_FAILED,
            WebhookEventType.NOTIFICATION_BOUNCED,
        ],
    )


@pytest.fixture
def test_channel_email(settings):
    """Email goes through the test channel, which can be told to fail."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {"email": "order_updates.notifications.channels.test.TestChannel"},
    }
    test_channel.reset()
    yield test_channel.TestChannel
    test_channel.reset()


@pytest.fixture
def write_fails(monkeypatch):
    """Make writing webhook deliveries raise, as a database error would."""

    def fail(*args, **kwargs):
        raise WriteFailed("the webhook outbox is unavailable")

    monkeypatch.setattr(events, "write", fail)


@pytest.fixture
def row(make_order, test_channel_email):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    return Notification.objects.get(order_id=order.pk, channel="email")


def reload(notification):
    return Notification.objects.get(pk=notification.pk)


def webhooks():
    return list(WebhookDelivery.objects.order_by("pk"))


def refused():
    return PermanentChannelError("550 no such user")


# The worker's batch ---------------------------------------------------------------


def test_a_failure_in_the_worker_is_recorded_with_its_webhook(
    endpoint, row, test_channel_email, capture_signal
):
    failed = capture_signal(signals.notification_failed)
    test_channel_email.fail_next(refused())
    assert delivery.deliver(row.pk) == delivery.FAILED
    assert reload(row).state == NotificationState.FAILED
    (webhook,) = webhooks()
    assert (webhook.endpoint_id, webhook.event_type) == (
        endpoint.pk,
        "notification.failed",
    )
    data = json.loads(webhook.body)["data"]
    assert data["notification"]["id"] == row.pk
    assert data["notification"]["state"] == "failed"
    assert "550 no such user" in data["notification"]["error"]
    assert [call["notification"].pk for call in failed] == [row.pk]


def test_no_failure_is_recorded_without_its_webhook(
    endpoint, row, test_channel_email, write_fails, capture_signal, monkeypatch
):
    """Writing the webhook fails: the failure is rolled back with it, nothing is
    announced, and the row stays "sending" until the sweeper takes it back."""
    failed = capture_signal(signals.notification_failed)
    Notification.objects.filter(pk=row.pk).update(
        attempts=5  # the claim makes it the last attempt
    )
    test_channel_email.fail_next(refused())
    with pytest.raises(WriteFailed):
        delivery.deliver(row.pk)
    row = reload(row)
    assert row.state == NotificationState.SENDING
    assert row.last_error == ""
    assert webhooks() == []
    assert failed == []

    # Writing works again: the sweeper fails the row (no attempt left), and its
    # webhook is written with it.
    monkeypatch.undo()
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        assert delivery.sweep()["failed"] == 1
    assert reload(row).state == NotificationState.FAILED
    (webhook,) = webhooks()
    assert webhook.event_type == "notification.failed"
    assert [call["notification"].pk for call in failed] == [row.pk]


def test_a_receiver_of_the_signal_cannot_undo_the_failure(
    endpoint, row, test_channel_email, caplog
):
    def broken(sender, **kwargs):
        raise RuntimeError("the shop's receiver is broken")

    signals.notification_failed.connect(broken, weak=False)
    try:
        test_channel_email.fail_next(refused())
        with caplog.at_level(logging.ERROR, logger="order_updates"):
            assert delivery.deliver(row.pk) == delivery.FAILED
    finally:
        signals.notification_failed.disconnect(broken)
    assert reload(row).state == NotificationState.FAILED
    assert [webhook.event_type for webhook in webhooks()] == ["notification.failed"]
    assert "the shop's receiver is broken" in caplog.text


def _fail_batch(make_order, channel, count):
    """Deliver ``count`` new notifications that all fail at once; the queries."""
    orders = [make_order() for _ in range(count)]
    services.bulk_set_status(orders, "confirmed")
    ids = list(
        Notification.objects.filter(
            order_id__in=[order.pk for order in orders]
        ).values_list("pk", flat=True)
    )
    assert len(ids) == count
    channel.fail_next(refused(), times=count)
    with CaptureQueriesContext(connection) as queries:
        outcomes = delivery.deliver_batch(ids)
    assert set(outcomes.values()) == {delivery.FAILED}
    return [query["sql"] for query in queries]


@pytest.mark.parametrize("subscribed", [True, False])
def test_a_batch_writes_its_failures_webhooks_in_a_constant_number_of_queries(
    make_order, test_channel_email, subscribed
):
    if subscribed:
        WebhookEndpoint.objects.create(
            url="https://hooks.example.com/orders",
            event_types=[WebhookEventType.NOTIFICATION_FAILED],
        )
    few = _fail_batch(make_order, test_channel_email, 2)
    many = _fail_batch(make_order, test_channel_email, 7)
    assert len(many) == len(few)
    webhook_queries = [sql for sql in many if "order_updates_webhook" in sql]
    # The subscribed endpoints; with one, the insert of all the deliveries.
    assert len(webhook_queries) == (2 if subscribed else 1)
    assert WebhookDelivery.objects.count() == (9 if subscribed else 0)


# The sweeper ----------------------------------------------------------------------


def _lost_on_last_attempt(row):
    """The worker sending ``row`` died on its last attempt."""
    Notification.objects.filter(pk=row.pk).update(attempts=5)
    assert delivery.claim(row.pk)


def test_a_lost_lease_is_failed_with_its_webhook(endpoint, row, capture_signal):
    failed = capture_signal(signals.notification_failed)
    _lost_on_last_attempt(row)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        assert delivery.sweep()["failed"] == 1
    row = reload(row)
    assert row.state == NotificationState.FAILED
    (webhook,) = webhooks()
    assert webhook.event_type == "notification.failed"
    data = json.loads(webhook.body)["data"]
    assert data["notification"]["id"] == row.pk
    assert data["notification"]["error"] == row.last_error
    assert "lease expired" in row.last_error
    assert data["order"]["id"] == row.order_id
    assert [call["notification"].pk for call in failed] == [row.pk]


def test_a_lost_lease_is_not_failed_without_its_webhook(
    endpoint, row, write_fails, capture_signal, caplog
):
    """The sweeper logs it, leaves the row for its next run, and goes on."""
    failed = capture_signal(signals.notification_failed)
    _lost_on_last_attempt(row)
    waiting = Notification.objects.create(
        order_id=row.order_id,
        event_id=row.event_id,
        type=row.type,
        channel="sms",
        recipient="+15550100",
        language="en",
        dedupe_key=Notification.make_dedupe_key(row.event_id, "sms", "+15550100"),
        next_attempt_at=timezone.now(),
    )
    later = timezone.now() + datetime.timedelta(minutes=6)
    with (
        time_machine.travel(later),
        caplog.at_level(logging.ERROR, logger="order_updates"),
    ):
        result = delivery.sweep()
    assert result["failed"] == 0
    assert reload(row).state == NotificationState.SENDING
    assert webhooks() == []
    assert failed == []
    assert "the next sweep tries again" in caplog.text
    # The rest of the sweep went on: the row waiting for its task was queued.
    assert waiting.state == NotificationState.PENDING
    assert result["queued"] == 1


# Delivery feedback ------------------------------------------------------------------


def _sent(row):
    Notification.objects.filter(pk=row.pk).update(
        state=NotificationState.SENT,
        provider="postmark",
        provider_message_id="pm-9",
        sent_at=timezone.now(),
    )
    return reload(row)


def _bounce(notification, event_id="bounce-1"):
    return feedback.record_delivery_feedback(
        notification,
        provider="postmark",
        event_id=event_id,
        event_type="bounced",
        description="550 mailbox unavailable",
    )


def test_a_bounce_is_recorded_with_its_webhook(
    endpoint, row, capture_signal, django_capture_on_commit_callbacks
):
    failed = capture_signal(signals.notification_failed)
    notification = _sent(row)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _bounce(notification)
        # Written in the bounce's own transaction, before anything runs after it.
        (webhook,) = webhooks()
    assert webhook.event_type == "notification.bounced"
    data = json.loads(webhook.body)["data"]
    assert data["notification"]["state"] == "bounced"
    assert data["notification"]["error"] == "550 mailbox unavailable"
    assert failed == []
    for callback in callbacks:
        callback()
    assert [call["notification"].pk for call in failed] == [row.pk]
    assert reload(row).state == NotificationState.BOUNCED


def test_no_bounce_is_recorded_without_its_webhook(
    endpoint, row, write_fails, capture_signal, django_capture_on_commit_callbacks
):
    """The feedback is rolled back whole, so the provider's retry records it."""
    failed = capture_signal(signals.notification_failed)
    notification = _sent(row)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(WriteFailed):
        _bounce(notification)
    assert reload(row).state == NotificationState.SENT
    assert not DeliveryFeedback.objects.exists()
    assert webhooks() == []
    assert failed == []
