"""Claiming, sending, retrying and sweeping, called directly (no broker needed)."""

import datetime
import io
import smtplib

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from order_updates import services, signals
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationState,
    NotificationTypeSetting,
    SuppressedRecipient,
)
from order_updates.notifications import delivery


@pytest.fixture
def row(make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    return Notification.objects.get(order_id=order.pk, channel="email")


def reload(notification):
    return Notification.objects.get(pk=notification.pk)


def test_deliver_sends_once_and_records_what_was_sent(row, capture_signal):
    sent = capture_signal(signals.notification_sent)
    assert delivery.deliver(row.pk) == delivery.SENT
    assert delivery.deliver(row.pk) == delivery.NOT_CLAIMED
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    row = reload(row)
    assert row.state == NotificationState.SENT
    assert row.attempts == 1 and row.sent_at and row.lease_expires_at is None
    assert row.subject == message.subject
    assert row.body_text and row.body_html
    assert row.provider
    assert [call["notification"].pk for call in sent] == [row.pk]


def test_claim_is_exclusive(row):
    assert delivery.claim(row.pk)
    assert not delivery.claim(row.pk)
    assert reload(row).state == NotificationState.SENDING


def test_not_due_yet_is_not_claimed(row):
    Notification.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    assert delivery.deliver(row.pk) == delivery.NOT_CLAIMED


@pytest.fixture
def email_fails(settings):
    """Make the email backend raise: ``email_fails(error, ...)``, one per send.

    The real email channel runs and classifies the error, as with a real server.
    """
    from tests import flaky_email

    settings.EMAIL_BACKEND = "tests.flaky_email.RaisingEmailBackend"
    flaky_email.raise_next.clear()
    yield flaky_email.raise_next.extend
    flaky_email.raise_next.clear()


def greylisted():
    return smtplib.SMTPRecipientsRefused({"ada@example.com": (451, b"Try later")})


def refused():
    return smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"No such user")})


def test_transient_error_retries_with_backoff(row, email_fails):
    email_fails([greylisted()])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert delivery.deliver(row.pk) == delivery.RETRY
    row = reload(row)
    assert row.state == NotificationState.PENDING
    assert row.attempts == 1
    assert "Try later" in row.last_error
    # 30 s base: between 15 and 30 seconds for the first retry.
    wait = (row.next_attempt_at - start).total_seconds()
    assert 15 <= wait <= 30


def test_backoff_grows_and_is_capped(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "RETRY_BACKOFF_SECONDS": 10,
        "RETRY_BACKOFF_MAX_SECONDS": 100,
    }
    waits = [delivery.backoff(n) for n in range(1, 8)]
    assert 5 <= waits[0] <= 10
    assert 20 <= waits[2] <= 40
    assert all(50 <= wait <= 100 for wait in waits[4:])


def test_last_attempt_fails_for_good(row, email_fails, capture_signal):
    failed = capture_signal(signals.notification_failed)
    email_fails([greylisted()])
    Notification.objects.filter(pk=row.pk).update(attempts=5)
    assert delivery.deliver(row.pk) == delivery.FAILED
    row = reload(row)
    assert (row.state, row.attempts) == (NotificationState.FAILED, 6)
    assert "Try later" in row.last_error
    assert [call["notification"].pk for call in failed] == [row.pk]


def test_permanent_error_fails_at_once(row, email_fails):
    email_fails([refused()])
    assert delivery.deliver(row.pk) == delivery.FAILED
    row = reload(row)
    assert (row.state, row.attempts) == (NotificationState.FAILED, 1)


def test_unexpected_errors_are_retried(row, email_fails):
    # Not an error the email channel knows: retried, and logged, all the same.
    email_fails([RuntimeError("bug in a custom backend")])
    assert delivery.deliver(row.pk) == delivery.RETRY
    assert "RuntimeError: bug in a custom backend" in reload(row).last_error


def test_configuration_error_fails_with_a_clear_message(row, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "SITE_URL": None}
    assert delivery.deliver(row.pk) == delivery.FAILED
    assert "SITE_URL" in reload(row).last_error


def test_rows_are_rechecked_before_sending(row):
    NotificationTypeSetting.objects.create(type="order_received", enabled=False)
    assert delivery.deliver(row.pk) == delivery.SKIPPED
    row = reload(row)
    assert row.state == NotificationState.SKIPPED
    assert "switched off" in row.reason
    assert mail.outbox == []


def test_customer_who_unsubscribed_meanwhile_is_skipped(row):
    NotificationPreference.objects.create(
        email="ada@example.com", channels={"order": ["sms"]}
    )
    assert delivery.deliver(row.pk) == delivery.SKIPPED
    assert "no longer wants" in reload(row).reason


def test_address_suppressed_meanwhile(row):
    SuppressedRecipient.objects.create(
        channel="email", address="ada@example.com", reason="complained"
    )
    assert delivery.deliver(row.pk) == delivery.SKIPPED
    assert reload(row).state == NotificationState.SUPPRESSED


def test_quiet_hours_postpone_at_send_time(make_order, settings, django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(
        user=user, sms_consent_at=timezone.now(), timezone="America/New_York"
    )
    order = make_order(user=user, phone="+12025550123")
    # Queued at 15:59 in New York, outside quiet hours...
    queued = datetime.datetime(2026, 11, 27, 20, 59, tzinfo=datetime.timezone.utc)
    with time_machine.travel(queued, tick=False):
        services.start_tracking(order)
    sms = Notification.objects.get(order_id=order.pk, channel="sms")
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "QUIET_HOURS": ("21:00", "08:00"),
    }
    # ...but the worker only gets to it at 03:00 New York time.
    night = datetime.datetime(2026, 11, 28, 8, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(night, tick=False):
        assert delivery.deliver(sms.pk) == delivery.POSTPONED
    sms = reload(sms)
    assert sms.state == NotificationState.PENDING and sms.attempts == 0
    assert sms.next_attempt_at == datetime.datetime(
        2026, 11, 28, 13, 0, tzinfo=datetime.timezone.utc
    )


def test_sweeper_takes_back_rows_of_dead_workers(row):
    assert delivery.claim(row.pk)
    later = timezone.now() + datetime.timedelta(minutes=6)
    with time_machine.travel(later, tick=False):
        result = delivery.sweep()
    assert result["recovered"] == 1 and result["queued"] >= 1
    row = reload(row)
    assert row.state == NotificationState.PENDING
    assert "lease expired" in row.last_error


def test_sweeper_fails_rows_out_of_attempts(row, capture_signal):
    failed = capture_signal(signals.notification_failed)
    Notification.objects.filter(pk=row.pk).update(attempts=5)
    assert delivery.claim(row.pk)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        assert delivery.sweep()["failed"] == 1
    assert reload(row).state == NotificationState.FAILED
    assert len(failed) == 1


def test_sweeper_leaves_fresh_rows_to_their_task(row):
    assert delivery.sweep() == {"recovered": 0, "failed": 0, "queued": 0}


def test_resend_a_failed_notification(
    row, email_fails, broker_queue, django_capture_on_commit_callbacks
):
    email_fails([refused()])
    assert delivery.deliver(row.pk) == delivery.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.resend(reload(row))
    assert broker_queue() == [row.pk]
    assert delivery.deliver(row.pk) == delivery.SENT
    assert not delivery.resend(reload(row))  # sent: nothing to do


def superseded_row(make_order):
    """An "order received" email superseded by "order confirmed", which was sent."""
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    older, newer = Notification.objects.filter(
        order_id=order.pk, channel="email"
    ).order_by("pk")
    assert older.state == NotificationState.SKIPPED
    assert "Superseded by a newer update (#%d)." % newer.pk in older.reason
    assert delivery.deliver(newer.pk) == delivery.SENT
    mail.outbox.clear()
    return order, older


def test_a_superseded_notification_sent_again_is_sent(make_order):
    """Staff asked for that message: a newer one no longer supersedes it."""
    _order, older = superseded_row(make_order)
    assert delivery.resend(older)
    older = reload(older)
    assert older.resent_at is not None and older.reason == ""
    assert delivery.deliver(older.pk) == delivery.SENT
    assert reload(older).state == NotificationState.SENT
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == reload(older).subject
    assert message.subject.startswith("Thanks for your order")
    # Once: it is not sent a second time.
    assert delivery.deliver(older.pk) == delivery.NOT_CLAIMED
    assert len(mail.outbox) == 1


def test_a_notification_sent_again_is_not_superseded_before_it_goes(make_order):
    """A change while it waits for its worker does not skip it either."""
    order, older = superseded_row(make_order)
    assert delivery.resend(older)
    services.set_status(order, "processing")
    services.set_status(order, "shipped")
    assert reload(older).state == NotificationState.PENDING
    newest = Notification.objects.filter(order_id=order.pk, channel="email").latest(
        "pk"
    )
    assert newest.type == "shipped"
    assert delivery.deliver_batch([older.pk, newest.pk]) == {
        older.pk: delivery.SENT,
        newest.pk: delivery.SENT,
    }
    assert len(mail.outbox) == 2
    # Other messages are still superseded as before.
    services.set_status(order, "out_for_delivery")
    services.set_status(order, "delivered")
    assert [
        (row.type, row.state)
        for row in Notification.objects.filter(
            order_id=order.pk, channel="email"
        ).order_by("pk")
    ][-2:] == [
        ("out_for_delivery", NotificationState.SKIPPED),
        ("delivered", NotificationState.PENDING),
    ]


def test_sms_is_sent_through_the_provider(make_order, django_user_model, sms_outbox):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(user=user, sms_consent_at=timezone.now())
    order = make_order(user=user, phone="+4930901820")
    services.start_tracking(order)
    sms = Notification.objects.get(order_id=order.pk, channel="sms")
    assert delivery.deliver(sms.pk) == delivery.SENT
    assert len(sms_outbox) == 1
    assert reload(sms).body_text


def test_render_failure_marks_the_row_failed_with_the_error(row):
    from order_updates.models import NotificationTemplate

    # Saved past validation (as an older release might have): the worker must
    # not crash on it, and the merchant must see why nothing was sent.
    NotificationTemplate.objects.create(
        type="order_received",
        channel="email",
        language="en",
        subject="Order {{ order.number",
    )
    assert delivery.deliver(row.pk) == delivery.FAILED
    row = reload(row)
    assert row.state == NotificationState.FAILED
    assert "TemplateError" in row.last_error and "subject" in row.last_error
    assert mail.outbox == []


def test_sweep_command_and_task(row, broker_queue):
    from django.core.management import call_command

    from order_updates.tasks import sweep_outbox

    assert delivery.claim(row.pk)
    out = io.StringIO()
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        call_command("order_updates_sweep", stdout=out)
    assert out.getvalue().strip() == "Recovered 1, failed 0, queued 1."
    assert broker_queue() == [row.pk]
    # The beat task runs the same sweep (nothing left to recover now).
    assert sweep_outbox.run() == {"recovered": 0, "failed": 0, "queued": 0}


def test_a_send_that_outlived_its_lease_is_not_sent_again(row, settings):
    """The provider answered after the sweeper took the row back: it is sent."""
    from order_updates.notifications.channels import get_channel

    channel = get_channel("email")
    original = channel.send

    def slow_send(message):
        result = original(message)
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
            assert delivery.sweep()["recovered"] == 1  # meanwhile, elsewhere
        return result

    channel.send = slow_send
    try:
        assert delivery.deliver(row.pk) == delivery.SENT
    finally:
        del channel.send
    assert reload(row).state == NotificationState.SENT
    assert delivery.deliver(row.pk) == delivery.NOT_CLAIMED
    assert len(mail.outbox) == 1


def test_dates_are_in_the_customers_time_zone(make_order, settings):
    """The worker renders in the zone of the customer's preference."""
    settings.TIME_ZONE = "UTC"
    three_am = datetime.datetime(2026, 3, 5, 3, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(three_am, tick=False):
        zoned = make_order(email="zoned@example.com")
        NotificationPreference.objects.create(
            email="zoned@example.com", timezone="America/New_York"
        )
        bad = make_order(email="mars@example.com")
        NotificationPreference.objects.create(
            email="mars@example.com", timezone="Mars/Base"
        )
        for order in (zoned, bad):
            services.start_tracking(order)
        rows = Notification.objects.filter(channel="email").order_by("pk")
        assert delivery.deliver_batch([row.pk for row in rows]) == {
            row.pk: delivery.SENT for row in rows
        }
    by_recipient = {
        message.to[0]: message.alternatives[0][0] for message in mail.outbox
    }
    # 03:00 in London is still the evening before in New York.
    assert "Placed on March 4, 2026" in by_recipient["zoned@example.com"]
    # An unknown zone falls back to the shop's.
    assert "Placed on March 5, 2026" in by_recipient["mars@example.com"]


def test_a_task_of_50_costs_a_constant_number_of_statements(
    make_order, django_assert_num_queries, settings
):
    """Whatever the orders and customers: claim, load once, mark in groups."""
    orders = [make_order() for _ in range(50)]
    services.bulk_set_status(orders, "confirmed")
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert len(ids) == 50
    lines = 1  # the orders' lines, prefetched
    # Claim (savepoint, update, release) and read the rows with their events; the
    # orders (+ their lines), preferences, switches, suppressions, newer
    # messages, statuses, shipments, the messages they replaced (coalescing),
    # the merchant's templates; then one statement per group of SEND_GROUP sent
    # messages.
    expected = 4 + 1 + lines + 8 + 50 // delivery.SEND_GROUP
    with django_assert_num_queries(expected):
        outcomes = delivery.deliver_batch(ids)
    assert set(outcomes.values()) == {delivery.SENT}
    assert len(mail.outbox) == 50
    assert Notification.objects.filter(state=NotificationState.SENT).count() == 50


def test_parcels_items_cost_no_statement_per_order(
    make_order, django_assert_num_queries
):
    """A batch of partial shipments: the parcels' items are named from the
    orders' prefetched lines, with the same statements as above.
    """
    orders = [make_order() for _ in range(50)]
    services.bulk_set_status(orders, "processing", notify=False)
    for order in orders:
        tea = list(get_adapter().get_line_quantities(order))[1]
        services.add_shipment(
            order, items=[{"line": tea, "quantity": 1}], status="partially_shipped"
        )
    rows = Notification.objects.filter(type="shipped", channel="email")
    ids = list(rows.values_list("pk", flat=True))
    assert len(ids) == 50
    expected = 4 + 1 + 1 + 8 + 50 // delivery.SEND_GROUP  # as above
    with django_assert_num_queries(expected):
        outcomes = delivery.deliver_batch(ids)
    assert set(outcomes.values()) == {delivery.SENT}
    for message in mail.outbox:
        assert "In this parcel\n- Tea x 1\n" in message.body
        assert "- Mug" not in message.body  # as a line: a token may hold "Mug"


@pytest.mark.parametrize("late", ["sent", "failed"])
def test_a_worker_that_lost_its_rows_records_nothing(row, late, capture_signal):
    """Stalled past its lease, a worker's late outcome does not overwrite (or
    announce over) the outcome of the worker that took the row over.
    """
    from order_updates.notifications.channels import get_channel

    sent = capture_signal(signals.notification_sent)
    failed = capture_signal(signals.notification_failed)
    channel = get_channel("email")
    original = channel.send
    outcomes = []

    def stalled_send(message):
        del channel.send  # the next worker sends normally
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
            assert delivery.sweep()["recovered"] == 1
            outcomes.append(delivery.deliver(row.pk))  # another worker
        if late == "failed":
            raise refused()
        return original(message)

    channel.send = stalled_send
    try:
        assert delivery.deliver(row.pk) == delivery.LEASE_LOST
    finally:
        vars(channel).pop("send", None)
    assert outcomes == [delivery.SENT]
    taken_over = reload(row)
    assert (taken_over.state, taken_over.attempts) == (NotificationState.SENT, 2)
    assert taken_over.last_error == ""
    assert [call["notification"].pk for call in sent] == [row.pk]
    assert failed == []
    assert len(mail.outbox) == (2 if late == "sent" else 1)


def test_a_worker_that_lost_its_rows_stops_after_the_group_in_flight(make_order):
    """Stalled mid-group past its lease, a worker finishes that group (the
    provider-boundary window) and sends nothing more of its batch.
    """
    from order_updates.notifications.channels import get_channel

    orders = [make_order() for _ in range(delivery.SEND_GROUP + 1)]
    services.bulk_set_status(orders, "confirmed")
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    channel = get_channel("email")
    original = channel.send
    taken_over = {}

    def stalled_send(message):
        del channel.send  # the next worker sends normally
        with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
            assert delivery.sweep()["recovered"] == len(ids)
            taken_over.update(delivery.deliver_batch(ids))  # another worker
        return original(message)

    channel.send = stalled_send
    try:
        outcomes = delivery.deliver_batch(ids)
    finally:
        vars(channel).pop("send", None)
    assert set(taken_over.values()) == {delivery.SENT}
    assert set(outcomes.values()) == {delivery.LEASE_LOST}
    # The other worker's 11, and the stalled worker's group in flight: not the
    # next group.
    assert len(mail.outbox) == len(ids) + delivery.SEND_GROUP


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_as_fast_as_the_sweeper_can_claim_what_it_queues(
    make_order, monkeypatch
):
    """The sweeper holds no lock on the rows it queues while it publishes: a
    worker that gets the task at once (it skips locked rows) finds them.
    """
    import threading

    from django.db import connections

    from order_updates.notifications import queue

    orders = [make_order() for _ in range(3)]
    services.bulk_set_status(orders, "confirmed")
    Notification.objects.update(
        next_attempt_at=timezone.now() - 2 * delivery.SWEEP_GRACE
    )
    outcomes = {}

    def publish_to_a_fast_worker(ids, countdown=0, task=queue.DELIVER_TASK):
        def work():
            try:
                outcomes.update(delivery.deliver_batch(ids))
            finally:
                connections.close_all()

        worker = threading.Thread(target=work)
        worker.start()
        worker.join(timeout=30)
        return len(ids)

    monkeypatch.setattr(queue, "publish", publish_to_a_fast_worker)
    assert delivery.sweep()["queued"] == 3
    assert set(outcomes.values()) == {delivery.SENT}
    assert len(mail.outbox) == 3
