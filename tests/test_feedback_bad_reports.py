"""Odd delivery reports are recorded, never answered 500.

A webhook that fails makes the ESP send the same report again and again, and the
bounce is never recorded. Each report here goes through anymail's real webhook
view for its ESP (Postmark's basic-auth JSON, Mailgun's signed JSON), in that
ESP's payload format, with one value the database cannot take as it is.
"""

import base64
import copy
import datetime
import hashlib
import hmac
import json
import logging

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.urls import reverse
from django.utils import timezone

from order_updates.models import (
    DeliveryFeedback,
    EventKind,
    Notification,
    NotificationState,
    OrderEvent,
)
from order_updates.notifications import feedback, preferences
from order_updates.notifications.channels import get_channel
from tests.test_feedback import PHONE, consenting_customer, sent_email, setup  # noqa: F401

SECRET = "anymail:s3cret"
MAILGUN_KEY = "key-mailgun-webhook-signing"
MAILGUN_MESSAGE_ID = "<20260302100000.1.2@mg.shop.example.com>"


@pytest.fixture(autouse=True)
def anymail_settings(settings):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    }


def basic_auth():
    return "Basic %s" % base64.b64encode(SECRET.encode()).decode()


def post_postmark(client, body):
    """POST a Postmark tracking webhook; ``body`` is a dict or raw JSON text."""
    return client.post(
        reverse("anymail:postmark_tracking_webhook"),
        data=body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(),
    )


def post_mailgun(client, event_data, *, token="5b1d1f5ae5b30d82e6a4b38d0f2a8a1c"):
    """POST a Mailgun tracking webhook, signed as Mailgun signs it."""
    timestamp = "1772445600"
    signature = hmac.new(
        MAILGUN_KEY.encode(), f"{timestamp}{token}".encode("ascii"), hashlib.sha256
    ).hexdigest()
    payload = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }
    return client.post(
        reverse("anymail:mailgun_tracking_webhook"),
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth(),
    )


def postmark_bounce(notification, **changes):
    """Postmark's bounce webhook, as documented."""
    bounce = {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "shipped",
        "MessageID": notification.provider_message_id,
        "Metadata": {"order_updates_notification": str(notification.pk)},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account does not exist.",
        "Email": "customer@example.com",
        "From": "shop@example.com",
        "BouncedAt": "2026-03-02T10:03:00Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Your order has shipped",
    }
    bounce.update(changes)
    return bounce


def mailgun_failure(notification, **changes):
    """Mailgun's permanent-failure event-data, as documented."""
    event = {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1772445780.375624,
        "log-level": "error",
        "severity": "permanent",
        "reason": "bounce",
        "envelope": {
            "sender": "shop@mg.shop.example.com",
            "transport": "smtp",
            "targets": "customer@example.com",
        },
        "flags": {"is-routed": False, "is-authenticated": True},
        "delivery-status": {
            "attempt-no": 1,
            "message": "550 5.1.1 The email account does not exist.",
            "code": 550,
            "description": "Mailbox does not exist",
            "session-seconds": 0.1,
        },
        "message": {
            "headers": {
                "to": "customer@example.com",
                "message-id": notification.provider_message_id.strip("<>"),
                "from": "Shop <shop@mg.shop.example.com>",
                "subject": "Your order has shipped",
            },
            "attachments": [],
            "size": 1111,
        },
        "recipient": "customer@example.com",
        "recipient-domain": "example.com",
        "tags": ["shipped"],
        "user-variables": {"order_updates_notification": str(notification.pk)},
    }
    event.update(changes)
    return event


def bounced(notification):
    """The bounce was recorded, acted on, and put on the timeline."""
    notification.refresh_from_db()
    assert notification.state == NotificationState.BOUNCED
    row = DeliveryFeedback.objects.get(notification=notification)
    assert row.event_type == "bounced"
    assert preferences.is_suppressed(get_channel("email"), "customer@example.com")
    [event] = OrderEvent.objects.filter(
        order_id=notification.order_id, kind=EventKind.DELIVERY_FEEDBACK
    )
    return row, event


# Postmark ---------------------------------------------------------------------------


def test_postmark_bounce_with_nul_in_its_description(client, make_order):
    notification = sent_email(make_order())
    bounce = postmark_bounce(notification, Description="Mailbox\u0000 full\u0000")
    assert post_postmark(client, bounce).status_code == 200
    row, event = bounced(notification)
    assert row.description == "Mailbox full"
    assert row.raw["Description"] == "Mailbox full"
    assert "Mailbox full" in event.note and "\x00" not in event.note
    notification.refresh_from_db()
    assert notification.last_error == "Mailbox full"


def test_postmark_bounce_with_a_lone_surrogate(client, make_order):
    notification = sent_email(make_order())
    body = json.dumps(postmark_bounce(notification, Description="Bad \u00e9"))
    body = body.replace("\\u00e9", "\\ud800")  # what a broken encoder writes
    assert post_postmark(client, body).status_code == 200
    row, _event = bounced(notification)
    assert row.description == "Bad \ufffd"


@pytest.mark.parametrize(
    "description, stored",
    [
        ({"code": 550}, "{'code': 550}"),
        (550, "550"),
        (["a", "b"], "['a', 'b']"),
        ("x" * 50_000, "x" * feedback.DESCRIPTION_LENGTH),
    ],
)
def test_postmark_bounce_with_a_description_that_is_no_short_text(
    client, make_order, description, stored
):
    notification = sent_email(make_order())
    bounce = postmark_bounce(notification, Description=description)
    assert post_postmark(client, bounce).status_code == 200
    row, event = bounced(notification)
    assert row.description == stored
    assert len(event.note) < 5000


@pytest.mark.parametrize(
    "literal, event_id",
    [
        ("Infinity", "inf"),
        ("-Infinity", "-inf"),
        ("NaN", "nan"),
        ("1e999", "inf"),
        ("9" * 300, None),  # longer than the column: its hash
        ('"a\\u0000b"', "ab"),
    ],
)
def test_postmark_bounce_with_an_odd_event_id(client, make_order, literal, event_id):
    notification = sent_email(make_order())
    body = json.dumps(postmark_bounce(notification, ID="@ID@"))
    body = body.replace('"@ID@"', literal)
    assert post_postmark(client, body).status_code == 200
    row, _event = bounced(notification)
    if event_id is None:
        assert row.event_id.startswith("sha256:") and len(row.event_id) == 71
    else:
        assert row.event_id == event_id
    json.dumps(row.raw, allow_nan=False)  # stored as valid JSON
    # The ESP retries: still one report.
    assert post_postmark(client, body).status_code == 200
    assert DeliveryFeedback.objects.count() == 1


@pytest.mark.parametrize(
    "bounced_at",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"],
)
def test_postmark_bounce_at_a_time_out_of_range(client, make_order, bounced_at):
    notification = sent_email(make_order())
    before = timezone.now()
    bounce = postmark_bounce(notification, BouncedAt=bounced_at)
    assert post_postmark(client, bounce).status_code == 200
    row, _event = bounced(notification)
    assert before <= row.occurred_at <= timezone.now()  # when it was received
    row.refresh_from_db()  # and it reads back


def test_postmark_raw_event_with_nul_and_nan_is_stored_clean(client, make_order):
    notification = sent_email(make_order())
    body = json.dumps(postmark_bounce(notification, Subject="@S@", Extra="@E@"))
    body = body.replace('"@S@"', '"Your\\u0000 order"').replace(
        '"@E@"', '{"a\\u0000": [NaN, Infinity, "\\udfff"]}'
    )
    assert post_postmark(client, body).status_code == 200
    row, _event = bounced(notification)
    assert row.raw["Subject"] == "Your order"
    assert row.raw["Extra"] == {"a": ["NaN", "Infinity", "\ufffd"]}


def test_postmark_message_id_with_nul_falls_back_to_the_metadata(client, make_order):
    notification = sent_email(make_order())
    bounce = postmark_bounce(notification, MessageID="pm-1\u0000")
    assert post_postmark(client, bounce).status_code == 200
    bounced(notification)


@pytest.mark.parametrize(
    "literal",
    [
        "Infinity",
        "NaN",
        "1e300",
        "99999999999999999999999",
        "true",
        "[1]",
        '"1\\u0000"',
    ],
)
def test_postmark_odd_metadata_matches_nothing(client, make_order, literal):
    notification = sent_email(make_order())
    body = json.dumps(
        postmark_bounce(
            notification,
            MessageID="unknown",
            Metadata={"order_updates_notification": "@M@"},
        )
    )
    assert post_postmark(client, body.replace('"@M@"', literal)).status_code == 200
    assert not DeliveryFeedback.objects.exists()
    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT


def test_postmark_delivery_with_odd_recipient_and_metadata(client, make_order):
    notification = sent_email(make_order())
    delivery = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": notification.provider_message_id,
        "Recipient": {"address": "customer@example.com"},
        "Tag": ["shipped"],
        "DeliveredAt": "2026-03-02T10:00:05Z",
        "Details": {"smtp": 250},
        "Metadata": {"order_updates_notification": str(notification.pk)},
    }
    assert post_postmark(client, delivery).status_code == 200
    notification.refresh_from_db()
    assert notification.state == NotificationState.DELIVERED


# Mailgun ----------------------------------------------------------------------------


def mailgun_email(make_order):
    order = make_order(phone=PHONE)
    consenting_customer(order)
    return sent_email(order, message_id=MAILGUN_MESSAGE_ID)


def test_mailgun_failure_is_recorded(client, make_order):
    """The plain case, to show the payload is Mailgun's real one."""
    notification = mailgun_email(make_order)
    assert post_mailgun(client, mailgun_failure(notification)).status_code == 200
    row, _event = bounced(notification)
    assert (row.provider, row.event_id) == (
        "Mailgun",
        "5b1d1f5ae5b30d82e6a4b38d0f2a8a1c",
    )
    assert row.description == "Mailbox does not exist"
    assert row.occurred_at == datetime.datetime(
        2026, 3, 2, 10, 3, 0, 375624, tzinfo=datetime.timezone.utc
    )
    assert Notification.objects.get(channel="sms").fallback_for == notification


@pytest.mark.parametrize(
    "status, description",
    [
        ({"description": "No\u0000 mailbox", "message": ""}, "No mailbox"),
        ({"description": {"why": "gone"}, "message": ""}, "{'why': 'gone'}"),
        ({"description": "", "message": "550\u0000 gone"}, "550 gone"),
        ({"description": 5.5e300, "message": None}, "5.5e+300"),
    ],
)
def test_mailgun_failure_with_an_odd_delivery_status(
    client, make_order, status, description
):
    notification = mailgun_email(make_order)
    event = mailgun_failure(notification)
    event["delivery-status"].update(status)
    assert post_mailgun(client, event).status_code == 200
    row, _event = bounced(notification)
    assert row.description == description


@pytest.mark.parametrize(
    "token, event_id",
    [(float("inf"), "inf"), (12345678901234567890, "12345678901234567890")],
)
def test_mailgun_event_id_that_is_a_number(client, make_order, token, event_id):
    notification = mailgun_email(make_order)
    response = post_mailgun(client, mailgun_failure(notification), token=token)
    assert response.status_code == 200
    row, _event = bounced(notification)
    assert row.event_id == event_id
    json.dumps(row.raw, allow_nan=False)


def test_mailgun_odd_user_variables_and_headers(client, make_order):
    notification = mailgun_email(make_order)
    event = mailgun_failure(notification)
    event["user-variables"] = {
        "order_updates_notification": str(notification.pk),
        "\u0000": [float("inf")],
    }
    event["message"]["headers"]["subject"] = "\udcff" * 3
    assert post_mailgun(client, event).status_code == 200
    row, _event = bounced(notification)
    assert row.raw["event-data"]["user-variables"][""] == ["Infinity"]
    assert row.raw["event-data"]["message"]["headers"]["subject"] == "\ufffd" * 3


# Reports that cannot be recorded ------------------------------------------------------


class UnreadableEvent(AnymailTrackingEvent):
    """An ESP integration that hands over an event one of whose values cannot
    even be read (a lazy value that fails)."""

    @property
    def description(self):
        raise ValueError("malformed")

    @description.setter
    def description(self, value):
        pass


def test_a_report_that_cannot_be_recorded_is_logged_and_dropped(make_order, caplog):
    notification = sent_email(make_order())
    event = UnreadableEvent(
        event_type="bounced",
        event_id="b-1",
        message_id=notification.provider_message_id,
        recipient="customer@example.com",
        timestamp=timezone.now(),
    )
    with caplog.at_level(logging.ERROR, logger="order_updates.notifications.feedback"):
        results = tracking.send(sender=object, event=event, esp_name="Postmark")
    assert dict(results)[feedback.handle_tracking_event] is None
    [record] = caplog.records
    assert "Postmark tracking event could not be recorded" in record.getMessage()
    assert "'event_id': 'b-1'" in record.getMessage()
    assert record.exc_info[0] is ValueError
    assert not DeliveryFeedback.objects.exists()
    notification.refresh_from_db()
    assert notification.state == NotificationState.SENT


def test_record_delivery_feedback_cleans_what_shops_pass_too(make_order):
    """The provider-neutral function, called from a shop's own webhook."""
    notification = sent_email(make_order())
    result = feedback.record_delivery_feedback(
        notification,
        provider="twilio\x00",
        event_id="SM1\x00:failed",
        event_type="bounced",
        occurred_at="yesterday",
        description=b"Unreachable",
        raw={"ErrorCode": float("nan"), "Body": copy.deepcopy({"x": "\x00"})},
    )
    row = result.feedback
    row.refresh_from_db()
    assert (row.provider, row.event_id, row.description) == (
        "twilio",
        "SM1:failed",
        "b'Unreachable'",
    )
    assert row.raw == {"ErrorCode": "NaN", "Body": {"x": ""}}
    assert result.new_state == NotificationState.BOUNCED
