"""Which changes write which notification rows, in the change's transaction."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from order_updates import services, signals
from order_updates.core.adapter import DefaultOrderAdapter
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationState,
    NotificationTypeSetting,
    SuppressedRecipient,
)


def rows(order, **filters):
    return list(
        Notification.objects.filter(order_id=order.pk, **filters).order_by("pk")
    )


@pytest.fixture
def consenting_customer(django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(user=user, sms_consent_at=timezone.now())
    return user


def test_a_status_change_writes_one_row_per_channel_and_recipient(
    make_order, consenting_customer
):
    order = make_order(
        user=consenting_customer, email="ada@example.com", phone="+4930901820"
    )
    event = services.start_tracking(order)
    found = [(r.type, r.channel, r.recipient, r.state) for r in rows(order)]
    assert found == [
        ("order_received", "email", "ada@example.com", "pending"),
        ("order_received", "sms", "+4930901820", "pending"),
    ]
    row = rows(order)[0]
    assert row.event == event
    assert row.dedupe_key == "%s:email:ada@example.com" % event.pk
    assert row.language == "en"


def test_no_sms_without_consent(make_order):
    order = make_order(email="ada@example.com", phone="+4930901820")
    services.start_tracking(order)
    assert [r.channel for r in rows(order)] == ["email"]


def test_notify_false_and_internal_notes_write_nothing(order):
    services.start_tracking(order, notify=False)
    services.set_status(order, "confirmed", notify=False)
    services.add_note(order, "Customer is a VIP", public=False)
    assert rows(order) == []
    services.add_note(order, "Thanks for your patience!")
    assert [r.type for r in rows(order)] == ["note_added"]


def test_types_that_are_off_write_nothing(order, settings):
    services.start_tracking(order)
    services.set_status(order, "processing")  # off by default
    assert [r.type for r in rows(order)] == ["order_received"]
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "NOTIFICATION_TYPES": {"order_processing": {"enabled": True}},
        "EVENT_NOTIFICATIONS": {"status:on_hold": None},
    }
    services.set_status(order, "on_hold")
    services.set_status(order, "processing")
    assert [r.type for r in rows(order)] == ["order_received", "order_processing"]


def test_merchant_switch_wins(order):
    NotificationTypeSetting.objects.create(type="order_confirmed", enabled=False)
    NotificationTypeSetting.objects.create(type="order_processing", enabled=True)
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    services.set_status(order, "processing")
    assert [r.type for r in rows(order)] == ["order_received", "order_processing"]


def test_opted_out_customer_gets_no_row(make_order):
    order = make_order(email="Guest@Example.com")
    NotificationPreference.objects.create(
        email="guest@example.com", channels={"order": [], "shipping": ["email"]}
    )
    services.start_tracking(order)
    assert rows(order) == []


def test_suppressed_address_row_is_kept_visible(make_order):
    order = make_order(email="Bounced@Example.com")
    SuppressedRecipient.objects.create(
        channel="email", address="bounced@example.com", reason="bounced"
    )
    services.start_tracking(order)
    (row,) = rows(order)
    assert row.state == NotificationState.SUPPRESSED
    assert "Hard bounce" in row.reason


def test_rows_roll_back_with_the_change(transactional_db, make_order):
    order = make_order()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.start_tracking(order)
        assert len(rows(order)) == 1
        1 / 0  # noqa: B018
    assert rows(order) == []


def test_rapid_changes_coalesce_into_the_latest(order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "COALESCE_SECONDS": 30}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.start_tracking(order)
    with time_machine.travel(start + datetime.timedelta(seconds=10), tick=False):
        services.set_status(order, "confirmed")
        services.add_note(order, "We gift-wrapped it.")
    with time_machine.travel(start + datetime.timedelta(seconds=25), tick=False):
        services.set_status(order, "processing")
        services.set_status(order, "on_hold")
    found = [(r.type, r.state) for r in rows(order)]
    assert found == [
        ("order_received", "skipped"),
        ("order_confirmed", "skipped"),
        ("note_added", "pending"),  # a note is never swallowed
        ("on_hold", "pending"),
    ]
    latest = rows(order)[-1]
    assert latest.next_attempt_at == start + datetime.timedelta(seconds=55)
    received, confirmed = rows(order)[:2]
    # Each skipped message names the one that replaced it.
    assert "(#%s)" % confirmed.pk in received.reason
    assert "(#%s)" % latest.pk in confirmed.reason
    # An unsent message is replaced whatever its age (it waited out the night,
    # or the workers were down): the customer never gets an out-of-date one.
    with time_machine.travel(start + datetime.timedelta(hours=9), tick=False):
        services.set_status(order, "processing")  # order_processing is off
        services.set_status(order, "shipped")
    assert [(r.type, r.state) for r in rows(order)][-3:] == [
        ("note_added", "pending"),
        ("on_hold", "skipped"),
        ("shipped", "pending"),
    ]


def test_coalescing_off_sends_at_once_and_still_never_out_of_date(order):
    services.start_tracking(order)
    assert rows(order)[0].next_attempt_at <= timezone.now()
    Notification.objects.update(state=NotificationState.SENT)  # a worker sent it
    services.set_status(order, "confirmed")
    services.set_status(order, "processing", notify=False)
    services.set_status(order, "shipped")
    assert [(r.type, r.state) for r in rows(order)] == [
        ("order_received", "sent"),
        ("order_confirmed", "skipped"),  # not sent yet when "shipped" came
        ("shipped", "pending"),
    ]
    assert all(r.next_attempt_at <= timezone.now() for r in rows(order))


def test_quiet_hours_hold_sms_not_email(make_order, consenting_customer, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "QUIET_HOURS": ("21:00", "08:00"),
    }
    NotificationPreference.objects.filter(user=consenting_customer).update(
        timezone="Europe/Berlin"
    )
    order = make_order(user=consenting_customer, phone="+4930901820")
    # 23:30 in Berlin (UTC+1 in winter).
    night = datetime.datetime(2026, 11, 27, 22, 30, tzinfo=datetime.timezone.utc)
    with time_machine.travel(night, tick=False):
        services.start_tracking(order)
    email, sms = rows(order)
    assert email.next_attempt_at == night
    # Held until 08:00 Berlin time the next morning.
    assert sms.next_attempt_at == datetime.datetime(
        2026, 11, 28, 7, 0, tzinfo=datetime.timezone.utc
    )


def test_bulk_changes_queue_notifications_set_based(
    make_order, django_assert_max_num_queries
):
    orders = [make_order() for _ in range(30)]
    services.bulk_set_status(orders[:10], "confirmed", notify=False)
    from order_updates.conf import get_order_model

    queryset = get_order_model().objects.filter(pk__in=[o.pk for o in orders])
    with django_assert_max_num_queries(20):
        result = services.bulk_set_status(queryset, "on_hold")
    assert len(result.changed) == 30
    assert Notification.objects.filter(type="on_hold").count() == 30
    # Adopted orders are not announced as "received".
    assert not Notification.objects.filter(type="order_received").exists()


def test_adopting_old_orders_sends_nothing(make_order):
    make_order()
    services.track_existing_orders()
    assert not Notification.objects.exists()


def test_delivery_issue_notifies(order):
    services.start_tracking(order, status="shipped", notify=False)
    services.report_delivery_issue(order, "delayed", message="Storm in the Alps")
    services.report_delivery_issue(order, "exception", notify=False)
    assert [r.type for r in rows(order)] == ["delayed"]
    with pytest.raises(ValueError, match="delayed, exception"):
        services.report_delivery_issue(order, "lost")


def test_queued_after_commit_in_chunks(
    make_order, broker_queue, capture_signal, django_capture_on_commit_callbacks
):
    from order_updates.notifications import queue

    queued = capture_signal(signals.notification_queued)
    orders = [make_order() for _ in range(queue.TASK_CHUNK + 5)]
    with django_capture_on_commit_callbacks(execute=True):
        services.bulk_set_status(orders, "on_hold")
        assert broker_queue() == [] and queued == []  # nothing before commit
    rows = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    assert len(rows) == len(orders)
    assert sorted(broker_queue()) == rows  # every row queued once...
    assert [call["notification"].pk for call in queued] == rows
    from tests.celery_app import app

    with app.connection_for_write() as conn:  # ...in messages of TASK_CHUNK ids
        messages = conn.default_channel.client.llen(app.conf.task_default_queue)
    assert messages == 2


def test_adopting_old_orders_announces_nothing(
    make_order, capture_signal, django_capture_on_commit_callbacks
):
    started = capture_signal(signals.order_tracking_started)
    make_order()
    with django_capture_on_commit_callbacks(execute=True):
        services.track_existing_orders()
    assert started == []


def test_bulk_queues_push_without_a_query_per_order(
    make_order, settings, django_user_model, django_assert_max_num_queries
):
    from order_updates.models import PushSubscription

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            **settings.ORDER_UPDATES["CHANNELS"],
            "push": "order_updates.notifications.channels.push.WebPushChannel",
        },
    }

    def orders_with_browsers(count):
        orders = []
        for index in range(count):
            user = django_user_model.objects.create_user("c%d-%d" % (count, index))
            PushSubscription.objects.create(
                user=user,
                endpoint="https://push.example.net/%d/%d" % (count, index),
                p256dh="k",
                auth="a",
            )
            orders.append(make_order(user=user))
        services.bulk_set_status(orders, "confirmed", notify=False)
        return orders

    few, many = orders_with_browsers(3), orders_with_browsers(30)
    with django_assert_max_num_queries(30) as few_queries:
        services.bulk_set_status(few, "on_hold")
    with django_assert_max_num_queries(30) as many_queries:
        services.bulk_set_status(many, "on_hold")
    # Ten times the orders: the same statements (an insert may split in two on
    # SQLite's parameter limit), not one more query per order.
    assert len(many_queries) <= len(few_queries) + 1
    assert Notification.objects.filter(channel="push").count() == 33


class QuietAdapter(DefaultOrderAdapter):
    """Vetoes texts about some orders, and records every question."""

    calls: list = []
    quiet_orders: set = set()

    def should_notify(self, order, notification_type, channel):
        self.calls.append((order.pk, notification_type.code, channel.name))
        return not (channel.name == "sms" and order.pk in self.quiet_orders)


@pytest.fixture
def quiet_adapter(settings):
    QuietAdapter.calls = []
    QuietAdapter.quiet_orders = set()
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_outbox.QuietAdapter",
    }
    return QuietAdapter


def test_should_notify_vetoes_a_channel(make_order, consenting_customer, quiet_adapter):
    quiet = make_order(user=consenting_customer, phone="+4930901820")
    loud = make_order(user=consenting_customer, phone="+4930901820")
    quiet_adapter.quiet_orders = {quiet.pk}
    services.start_tracking(quiet)
    services.start_tracking(loud)
    assert [r.channel for r in rows(quiet)] == ["email"]
    assert [r.channel for r in rows(loud)] == ["email", "sms"]
    assert quiet_adapter.calls == [
        (quiet.pk, "order_received", "email"),
        (quiet.pk, "order_received", "sms"),
        (loud.pk, "order_received", "email"),
        (loud.pk, "order_received", "sms"),
    ]


def test_should_notify_is_asked_once_per_order_type_and_channel(
    make_order, quiet_adapter, settings
):
    from order_updates.notifications.channels.base import BaseChannel, SendResult

    class TwoAddresses(BaseChannel):
        def recipients(self, order, adapter, preference):
            return ["a", "b"]

        def send(self, message):
            return SendResult(provider="two")

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {"two": TwoAddresses},
    }
    orders = [make_order() for _ in range(3)]
    services.bulk_set_status(orders, "on_hold", notify=False)
    services.bulk_set_status(orders, "confirmed")
    assert Notification.objects.count() == 6  # two recipients per order
    assert sorted(quiet_adapter.calls) == sorted(
        (order.pk, "order_confirmed", "two") for order in orders
    )


def test_eager_mode_delivers_in_process(
    order, settings, django_capture_on_commit_callbacks
):
    """A shop's tests with CELERY_TASK_ALWAYS_EAGER get their messages at once."""
    from django.core import mail

    from tests.celery_app import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.start_tracking(order)
    finally:
        app.conf.task_always_eager = False
    assert [row.state for row in rows(order)] == ["sent"]
    assert len(mail.outbox) == 1
