"""The test channel that shops use in their own tests."""

import pytest

from order_updates.core.adapter import get_adapter
from order_updates.exceptions import (
    PermanentChannelError,
    RecipientGone,
    TransientChannelError,
)
from order_updates.notifications.channels import get_channel
from order_updates.notifications.channels import test as test_channel
from order_updates.notifications.channels.base import OutgoingMessage
from order_updates.notifications.channels.test import TestChannel


@pytest.fixture(autouse=True)
def clean():
    test_channel.reset()
    yield
    test_channel.reset()


@pytest.fixture
def channel(order_updates_settings):
    order_updates_settings(
        CHANNELS={"email": "order_updates.notifications.channels.test.TestChannel"}
    )
    return get_channel("email")


def outgoing(notification_id=1):
    return OutgoingMessage(
        notification_id=notification_id,
        channel="email",
        type="order_shipped",
        recipient="ada@example.com",
        language="en",
        subject="Shipped",
        text="Your order has shipped.",
    )


def test_configured_by_dotted_path(channel):
    assert isinstance(channel, TestChannel)
    assert channel.name == "email"
    assert channel.parts == ("subject", "text", "html")


def test_records_messages(channel):
    message = outgoing()
    first = channel.send(message)
    second = channel.send(outgoing(2))
    assert test_channel.outbox[0] is message
    assert [m.notification_id for m in test_channel.outbox] == [1, 2]
    assert first.provider == "test"
    assert first.message_id != second.message_id


def test_recipient_is_the_orders_email(channel, make_order):
    order = make_order(email="ada@example.com")
    assert channel.recipients(order, get_adapter(), None) == ["ada@example.com"]
    assert channel.recipients(make_order(email=""), get_adapter(), None) == []


def test_fail_next(channel):
    TestChannel.fail_next()
    TestChannel.fail_next(PermanentChannelError("Rejected"), times=2)
    with pytest.raises(TransientChannelError, match="told to fail"):
        channel.send(outgoing())
    for _ in range(2):
        with pytest.raises(PermanentChannelError, match="Rejected"):
            channel.send(outgoing())
    channel.send(outgoing())
    assert len(test_channel.outbox) == 1


def test_forget_recipient_is_recorded(channel):
    TestChannel.fail_next(RecipientGone("gone"))
    with pytest.raises(RecipientGone):
        channel.send(outgoing())
    channel.forget_recipient("ada@example.com")
    assert test_channel.forgotten == ["ada@example.com"]


def test_reset_drops_everything(channel):
    channel.send(outgoing())
    TestChannel.fail_next()
    test_channel.reset()
    assert test_channel.outbox == []
    channel.send(outgoing())
    assert len(test_channel.outbox) == 1


def test_build_message(channel, order, make_notification):
    notification = make_notification(order, recipient="ada@example.com")
    message = channel.build_message(notification, order)
    assert message.recipient == "ada@example.com"
    assert message.subject and message.text
    assert message.metadata["order_updates_notification"] == str(notification.pk)


def test_check(channel):
    assert channel.check() == []


def test_the_documented_recipe(channel, make_order, django_capture_on_commit_callbacks):
    """docs/channels.rst, "Testing your shop": rows delivered without a worker."""
    from order_updates import services
    from order_updates.models import Notification
    from order_updates.notifications import delivery

    order = make_order(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=False):
        services.start_tracking(order, notify=False)
        services.set_status(order, "confirmed")
    for notification in Notification.objects.filter(order_id=order.pk):
        delivery.deliver(notification.pk)

    [message] = test_channel.outbox
    assert message.type == "order_confirmed"
    assert message.recipient == "ada@example.com"
    notification = Notification.objects.get(pk=message.notification_id)
    assert notification.state == "sent"
    assert notification.provider == "test"
