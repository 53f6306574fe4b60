"""Delivery feedback from django-anymail's ``tracking`` signal (notifications.feedback).

Events are real ``AnymailTrackingEvent`` objects sent through the real signal, as
anymail's webhook views do; one test goes all the way from a Postmark webhook
HTTP request to our rows.
"""

import base64
import datetime
import json

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.urls import reverse

from order_updates import services, signals
from order_updates.core.adapter import DefaultOrderAdapter
from order_updates.models import (
    DeliveryFeedback,
    EventKind,
    Notification,
    NotificationState,
    OrderEvent,
    SuppressedRecipient,
)
from order_updates.notifications import feedback, preferences
from order_updates.notifications.channels import get_channel

PHONE = "+14155550123"
T0 = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(autouse=True)
def setup(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "email": "order_updates.notifications.channels.email.EmailChannel",
            "sms": "order_updates.notifications.channels.sms.SMSChannel",
        },
        "QUIET_HOURS": None,
    }
    feedback.connect_receivers()
    feedback.connect_receivers()  # twice is harmless: still one receiver
    from anymail.signals import tracking

    uid = "order_updates.notifications.feedback.handle_tracking_event"
    assert len([r for r in tracking.receivers if r[0][0] == uid]) == 1


def sent_email(order, *, message_id="pm-1", notification_type="shipped"):
    """A notification row the email channel has handed to the ESP."""
    event = services.start_tracking(order, notify=False)
    recipient = "Customer@Example.com"
    return Notification.objects.create(
        order=order,
        event=event,
        type=notification_type,
        channel="email",
        recipient=recipient,
        language="en",
        state=NotificationState.SENT,
        provider="postmark",
        provider_message_id=message_id,
        sent_at=T0,
        dedupe_key=Notification.make_dedupe_key(event.pk, "email", recipient),
    )


def send(event_type, *, message_id="pm-1", event_id=None, at=T0, **kwargs):
    """Send anymail's tracking signal the way its webhook views do."""
    event = AnymailTrackingEvent(
        event_type=event_type,
        timestamp=at,
        event_id=event_id,
        message_id=message_id,
        recipient=kwargs.pop("recipient", "customer@example.com"),
        esp_event=kwargs.pop("esp_event", {"raw": event_type}),
        **kwargs,
    )
    results = tracking.send(sender=object, event=event, esp_name="Postmark")
    for receiver, result in results:
        if receiver is feedback.handle_tracking_event:
            return result
    raise AssertionError("order_updates' receiver is not connected")


def state_of(notification):
    notification.refresh_from_db()
    return notification.state


def feedback_events(order):
    return list(
        OrderEvent.objects.filter(order_id=order.pk, kind=EventKind.DELIVERY_FEEDBACK)
    )


def consenting_customer(order):
    preferences.give_sms_consent(preferences.preference_for_order(order))


# Delivered ---------------------------------------------------------------------------


def test_delivered(make_order, capture_signal, django_capture_on_commit_callbacks):
    notification = sent_email(make_order())
    delivered = capture_signal(signals.notification_delivered)
    with django_capture_on_commit_callbacks(execute=True):
        result = send("delivered", event_id="d-1", at=T0)
    assert result.new_state == NotificationState.DELIVERED
    notification.refresh_from_db()
    assert notification.state == NotificationState.DELIVERED
    assert notification.delivered_at == T0
    row = DeliveryFeedback.objects.get()
    assert (row.provider, row.event_id, row.event_type) == (
        "Postmark",
        "d-1",
        "delivered",
    )
    assert row.raw == {"raw": "delivered"}
    assert [call["notification"].pk for call in delivered] == [notification.pk]
    assert feedback_events(notification.order) == []  # good news stays quiet


def test_opened_implies_delivered(make_order):
    notification = sent_email(make_order())
    send("opened", event_id="o-1")
    assert state_of(notification) == NotificationState.DELIVERED


def test_deferred_and_queued_change_nothing(make_order):
    notification = sent_email(make_order())
    send("deferred", event_id="x-1", description="Mailbox busy")
    send("queued", event_id="x-2")
    assert state_of(notification) == NotificationState.SENT
    assert DeliveryFeedback.objects.count() == 2


def test_duplicate_event_records_nothing(make_order):
    notification = sent_email(make_order())
    first = send("bounced", event_id="b-1", description="No such user")
    second = send("bounced", event_id="b-1", description="No such user")
    assert first.recorded and not second.recorded
    assert DeliveryFeedback.objects.count() == 1
    assert len(feedback_events(notification.order)) == 1


def test_events_without_id_are_deduped_by_content(make_order):
    sent_email(make_order())
    send("delivered", at=T0)
    send("delivered", at=T0)
    send("delivered", at=T0 + datetime.timedelta(seconds=1))
    ids = set(DeliveryFeedback.objects.values_list("event_id", flat=True))
    assert len(ids) == 2
    assert all(value.startswith("sha256:") for value in ids)


# Out of order ------------------------------------------------------------------------


def test_late_delivered_after_bounce_changes_nothing(make_order):
    notification = sent_email(make_order())
    send("bounced", event_id="b-1", at=T0 + datetime.timedelta(minutes=1))
    send("delivered", event_id="d-1", at=T0)
    notification.refresh_from_db()
    assert notification.state == NotificationState.BOUNCED
    assert notification.delivered_at is None
    assert DeliveryFeedback.objects.count() == 2  # both recorded all the same


def test_sent_after_delivered_does_not_regress(make_order):
    notification = sent_email(make_order())
    send("delivered", event_id="d-1")
    send("sent", event_id="s-1")
    send("queued", event_id="q-1")
    assert state_of(notification) == NotificationState.DELIVERED


def test_bounce_after_delivered_is_a_bounce(make_order):
    notification = sent_email(make_order())
    send("delivered", event_id="d-1")
    send("bounced", event_id="b-1", description="Mailbox full, gave up")
    assert state_of(notification) == NotificationState.BOUNCED


def test_report_before_the_worker_recorded_sent(make_order):
    notification = sent_email(make_order())
    Notification.objects.filter(pk=notification.pk).update(
        state=NotificationState.SENDING
    )
    send("delivered", event_id="d-1")
    assert state_of(notification) == NotificationState.DELIVERED


# Bounces -----------------------------------------------------------------------------


def test_bounce_suppresses_records_timeline_and_falls_back_to_sms(
    make_order, capture_signal, django_capture_on_commit_callbacks, broker_queue
):
    order = make_order(phone=PHONE)
    consenting_customer(order)
    notification = sent_email(order)
    failed = capture_signal(signals.notification_failed)
    with django_capture_on_commit_callbacks(execute=True):
        result = send(
            "bounced", event_id="b-1", description="The mailbox does not exist."
        )
    notification.refresh_from_db()
    assert notification.state == NotificationState.BOUNCED
    assert notification.last_error == "The mailbox does not exist."

    suppressed = SuppressedRecipient.objects.get()
    assert (suppressed.channel, suppressed.address, suppressed.reason) == (
        "email",
        "customer@example.com",
        "bounced",
    )
    assert suppressed.notification_id == notification.pk

    fallback = Notification.objects.get(channel="sms")
    assert result.fallback == fallback
    assert fallback.fallback_for_id == notification.pk
    assert fallback.state == NotificationState.PENDING
    assert fallback.recipient == PHONE
    assert fallback.event_id == notification.event_id
    assert fallback.type == "shipped"
    assert fallback.dedupe_key == Notification.make_dedupe_key(
        notification.event_id, "sms", PHONE
    )
    assert broker_queue() == [fallback.pk]

    [event] = feedback_events(order)
    assert event.actor_label == "provider:postmark"
    assert not event.notify and not event.is_public and event.message == ""
    assert event.note.startswith(
        "Email to Customer@Example.com bounced: The mailbox does not exist."
    )
    assert PHONE in event.note
    assert event.data["fallback"] == fallback.pk
    assert event.data["notification"] == notification.pk
    assert [call["notification"].pk for call in failed] == [notification.pk]


def test_no_fallback_without_sms_consent(make_order):
    order = make_order(phone=PHONE)
    sent_email(order)
    result = send("bounced", event_id="b-1")
    assert result.fallback is None
    assert not Notification.objects.filter(channel="sms").exists()
    assert "text message" not in feedback_events(order)[0].note


def test_no_fallback_without_phone_or_sms_channel(make_order, settings):
    order = make_order(phone="")
    consenting_customer(order)
    sent_email(order)
    assert send("bounced", event_id="b-1").fallback is None

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "email": "order_updates.notifications.channels.email.EmailChannel"
        },
    }
    other = make_order(phone=PHONE)
    consenting_customer(other)
    sent_email(other, message_id="pm-2")
    assert send("bounced", message_id="pm-2", event_id="b-2").fallback is None
    assert not Notification.objects.filter(channel="sms").exists()


def test_no_fallback_to_a_suppressed_number_or_an_existing_sms(make_order):
    order = make_order(phone=PHONE)
    consenting_customer(order)
    notification = sent_email(order)
    preferences.suppress(get_channel("sms"), PHONE, "manual")
    assert send("bounced", event_id="b-1").fallback is None

    SuppressedRecipient.objects.filter(channel="sms").delete()
    other = make_order(phone=PHONE)
    consenting_customer(other)
    bounced = sent_email(other, message_id="pm-2")
    # The customer already gets this message by SMS: no second one.
    Notification.objects.create(
        order=other,
        event=bounced.event,
        type=bounced.type,
        channel="sms",
        recipient=PHONE,
        dedupe_key=Notification.make_dedupe_key(bounced.event_id, "sms", PHONE),
    )
    assert send("bounced", message_id="pm-2", event_id="b-2").fallback is None
    assert Notification.objects.filter(channel="sms").count() == 1
    assert notification.fallbacks.count() == 0


class NoTextsAdapter(DefaultOrderAdapter):
    def should_notify(self, order, notification_type, channel):
        return channel.name != "sms"


def test_no_fallback_the_adapter_vetoes(make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_feedback.NoTextsAdapter",
    }
    order = make_order(phone=PHONE)
    consenting_customer(order)
    sent_email(order)
    assert send("bounced", event_id="b-1").fallback is None
    assert not Notification.objects.filter(channel="sms").exists()


def test_second_bounce_report_adds_no_second_fallback(make_order):
    order = make_order(phone=PHONE)
    consenting_customer(order)
    sent_email(order)
    send("bounced", event_id="soft-1")
    send("bounced", event_id="hard-2")
    assert Notification.objects.filter(channel="sms").count() == 1
    assert len(feedback_events(order)) == 1


def test_failed_is_no_reason_to_suppress_the_address(make_order):
    notification = sent_email(make_order())
    send("failed", event_id="f-1", description="Template rendering failed")
    assert state_of(notification) == NotificationState.BOUNCED
    assert not SuppressedRecipient.objects.exists()
    assert len(feedback_events(notification.order)) == 1


@pytest.mark.parametrize(
    "reject_reason, suppressed_as",
    [("invalid", "bounced"), ("spam", "complained"), ("blocked", None)],
)
def test_rejected(make_order, reject_reason, suppressed_as):
    notification = sent_email(make_order())
    send("rejected", event_id="r-1", reject_reason=reject_reason)
    assert state_of(notification) == NotificationState.BOUNCED
    reasons = list(SuppressedRecipient.objects.values_list("reason", flat=True))
    assert reasons == ([suppressed_as] if suppressed_as else [])


@pytest.mark.parametrize("event_type", ["bounced", "rejected", "failed"])
def test_every_report_that_bounces_a_message_signals_its_failure(
    make_order, capture_signal, django_capture_on_commit_callbacks, event_type
):
    # docs/feedback.rst: the three reports that move a message to "bounced".
    notification = sent_email(make_order())
    failed = capture_signal(signals.notification_failed)
    with django_capture_on_commit_callbacks(execute=True):
        send(event_type, event_id="x-1", reject_reason="invalid")
    assert [call["notification"].pk for call in failed] == [notification.pk]


# Complaints and unsubscribes ---------------------------------------------------------


def test_complaint_suppresses_and_is_noted(make_order):
    notification = sent_email(make_order())
    send("delivered", event_id="d-1")
    result = send("complained", event_id="c-1")
    assert result.suppressed
    assert state_of(notification) == NotificationState.DELIVERED
    suppressed = SuppressedRecipient.objects.get()
    assert suppressed.reason == "complained"
    assert preferences.is_suppressed(get_channel("email"), "CUSTOMER@example.com")
    [event] = feedback_events(notification.order)
    assert "reported the email as spam" in event.note


def test_unsubscribed_at_the_esp_updates_the_preference(make_order):
    order = make_order(email="Customer@Example.com")
    notification = sent_email(order)
    send("unsubscribed", event_id="u-1")
    preference = preferences.preference_for_order(order)
    assert preference.pk is not None
    assert not preferences.wants(preference, "shipping", get_channel("email"))
    assert not SuppressedRecipient.objects.exists()  # a choice, not a suppression
    assert state_of(notification) == NotificationState.SENT
    assert "unsubscribed from email updates" in feedback_events(order)[0].note


# Matching ----------------------------------------------------------------------------


def test_unknown_message_is_ignored(make_order):
    sent_email(make_order())
    assert send("bounced", message_id="someone-else", event_id="b-1") is None
    assert send("bounced", message_id=None, metadata={"other": "1"}) is None
    assert (
        send("bounced", message_id="x", metadata={"order_updates_notification": "zz"})
        is None
    )
    assert not DeliveryFeedback.objects.exists()
    assert not SuppressedRecipient.objects.exists()


def test_metadata_fallback_match(make_order):
    notification = sent_email(make_order(), message_id="")
    result = send(
        "delivered",
        message_id="esp-id-we-never-stored",
        event_id="d-1",
        metadata={"order_updates_notification": str(notification.pk)},
    )
    assert result.feedback.notification == notification
    assert state_of(notification) == NotificationState.DELIVERED


def test_message_id_wins_over_metadata(make_order):
    first = sent_email(make_order(), message_id="pm-1")
    second = sent_email(make_order(), message_id="pm-2")
    send(
        "delivered",
        message_id="pm-1",
        event_id="d-1",
        metadata={"order_updates_notification": str(second.pk)},
    )
    assert state_of(first) == NotificationState.DELIVERED
    assert state_of(second) == NotificationState.SENT


# From HTTP to our rows ---------------------------------------------------------------


def postmark(client, payload):
    auth = base64.b64encode(b"anymail:s3cret").decode()
    return client.post(
        reverse("anymail:postmark_tracking_webhook"),
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic %s" % auth,
    )


@pytest.fixture
def anymail_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "anymail:s3cret"}


def test_postmark_webhook_end_to_end(client, make_order, anymail_secret):
    order = make_order(phone=PHONE)
    consenting_customer(order)
    notification = sent_email(order, message_id="883953f4-6105-42a2-a16a-77a8eac79483")
    delivery = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "customer@example.com",
        "Tag": "shipped",
        "DeliveredAt": "2026-03-02T10:00:05Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"order_updates_notification": str(notification.pk)},
    }
    assert postmark(client, delivery).status_code == 200
    assert postmark(client, delivery).status_code == 200  # Postmark retried
    notification.refresh_from_db()
    assert notification.state == NotificationState.DELIVERED
    assert notification.delivered_at == T0 + datetime.timedelta(seconds=5)
    assert DeliveryFeedback.objects.count() == 1

    bounce = {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "shipped",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"order_updates_notification": str(notification.pk)},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message "
        "(ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account does not exist.",
        "Email": "customer@example.com",
        "From": "shop@example.com",
        "BouncedAt": "2026-03-02T10:03:00Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Your order has shipped",
    }
    assert postmark(client, bounce).status_code == 200
    notification.refresh_from_db()
    assert notification.state == NotificationState.BOUNCED
    row = DeliveryFeedback.objects.get(event_type="bounced")
    assert (row.provider, row.event_id) == ("Postmark", "4323372036854775807")
    assert row.raw["Type"] == "HardBounce"
    assert preferences.is_suppressed(get_channel("email"), "customer@example.com")
    assert Notification.objects.get(channel="sms").fallback_for == notification
    [event] = feedback_events(order)
    assert event.actor_label == "provider:postmark"
    assert "unable to deliver" in event.note


def test_webhook_with_wrong_secret_changes_nothing(client, make_order, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "anymail:other"}
    notification = sent_email(make_order())
    response = postmark(
        client,
        {
            "RecordType": "Delivery",
            "MessageID": "pm-1",
            "Recipient": "customer@example.com",
            "DeliveredAt": "2026-03-02T10:00:05Z",
        },
    )
    assert response.status_code == 400
    assert state_of(notification) == NotificationState.SENT
    assert not DeliveryFeedback.objects.exists()


# Concurrent webhooks (PostgreSQL: real row locks) ------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_never_regress_or_repeat(make_order, broker_queue):
    import threading

    from django.db import connections

    order = make_order(phone=PHONE)
    consenting_customer(order)
    notification = sent_email(order)
    reports = [
        ("delivered", "d-1"),
        ("bounced", "b-1"),
        ("bounced", "b-1"),
        ("bounced", "b-2"),
        ("delivered", "d-2"),
        ("complained", "c-1"),
        ("opened", "o-1"),
        ("bounced", "b-1"),
    ]
    barrier = threading.Barrier(len(reports))
    errors = []

    def report(event_type, event_id):
        try:
            barrier.wait()
            send(event_type, event_id=event_id)
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report, args=item) for item in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert state_of(notification) == NotificationState.BOUNCED
    assert DeliveryFeedback.objects.count() == len(set(reports))
    assert Notification.objects.filter(channel="sms").count() == 1
    assert SuppressedRecipient.objects.count() == 1
    kinds = [event.note.split(" ")[0] for event in feedback_events(order)]
    assert sorted(kinds) == ["Customer@Example.com", "Email"]  # spam, bounce
    sequences = list(
        OrderEvent.objects.filter(order_id=order.pk)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, len(sequences) + 1))


def test_no_second_text_when_the_customer_already_gets_one(
    make_order, django_user_model
):
    """The fallback is the SMS channel's own row: same normalised number, and none
    at all if the event already has a text."""
    from django.utils import timezone

    from order_updates import services
    from order_updates.models import NotificationPreference
    from order_updates.notifications import delivery

    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(user=user, sms_consent_at=timezone.now())
    order = make_order(user=user, email="ada@example.com", phone="+1 (415) 555-2671")
    services.start_tracking(order, status="processing", notify=False)
    services.set_status(order, "shipped")
    email = Notification.objects.get(order_id=order.pk, channel="email")
    assert delivery.deliver(email.pk) == delivery.SENT
    email.refresh_from_db()
    feedback.record_delivery_feedback(
        email,
        provider="postmark",
        event_id="bounce-1",
        event_type="bounced",
        description="Mailbox does not exist",
    )
    texts = Notification.objects.filter(order_id=order.pk, channel="sms")
    assert [row.recipient for row in texts] == ["+14155552671"]
