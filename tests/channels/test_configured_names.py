"""Behaviour comes from a channel's class, never from the name it is configured under.

The SMS channel registered as "text" behaves exactly as one registered as "sms",
and a shop's own channel class gets consent and quiet hours by saying so.
"""

import datetime

import pytest
import time_machine
from django.utils import timezone

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationState,
    SuppressedRecipient,
)
from order_updates.notifications import delivery, feedback, preferences
from order_updates.notifications.channels import get_channel
from order_updates.notifications.channels.base import BaseChannel, SendResult
from order_updates.notifications.forms import PreferencesForm
from order_updates.notifications.templating import save_template
from tests.links import is_tracking_link

PHONE = "+14155550123"
EMAIL = "order_updates.notifications.channels.email.EmailChannel"
TEXT = {
    "BACKEND": "order_updates.notifications.channels.sms.SMSChannel",
    "OPTIONS": {
        "provider": {
            "BACKEND": "order_updates.notifications.channels.sms.test.TestSMSProvider",
            "OPTIONS": {"sender": "Shop"},
        }
    },
}
#: 23:30 in Berlin (UTC+1 in winter); quiet hours end at 07:00 UTC.
NIGHT = datetime.datetime(2026, 11, 27, 22, 30, tzinfo=datetime.timezone.utc)
MORNING = datetime.datetime(2026, 11, 28, 7, 0, tzinfo=datetime.timezone.utc)
NOON = datetime.datetime(2026, 11, 27, 11, 0, tzinfo=datetime.timezone.utc)


class ChatChannel(BaseChannel):
    """A shop's own channel: consent first, and nothing at night."""

    parts = ("text",)
    short_text = True
    requires_consent = True
    quiet_hours = True

    def recipients(self, order, adapter, preference):
        return ["chat:%s" % adapter.get_email(order)]

    def send(self, message):
        return SendResult(provider="chat", message_id="1")


@pytest.fixture
def channels(settings):
    """Email, SMS configured as "text", and the shop's chat channel."""

    def configure(**channels):
        settings.ORDER_UPDATES = {
            **settings.ORDER_UPDATES,
            "CHANNELS": channels,
            "QUIET_HOURS": ("21:00", "08:00"),
        }

    configure(email=EMAIL, text=TEXT, chat=ChatChannel)
    return configure


@pytest.fixture
def daytime():
    """Noon in Berlin: nothing waits for quiet hours to end."""
    with time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture
def customer(django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(user=user, timezone="Europe/Berlin")
    return user


def consent(user):
    NotificationPreference.objects.filter(user=user).update(
        sms_consent_at=timezone.now()
    )


def rows(order):
    return {
        row.channel: row
        for row in Notification.objects.filter(order_id=order.pk).order_by("pk")
    }


def test_consent_is_required_whatever_the_name(channels, customer, make_order):
    order = make_order(user=customer, email="ada@example.com", phone=PHONE)
    services.start_tracking(order)
    assert set(rows(order)) == {"email"}
    consent(customer)
    services.set_status(order, "confirmed")
    assert {row.channel for row in rows(order).values()} == {"email", "text", "chat"}
    assert rows(order)["text"].recipient == PHONE
    assert rows(order)["chat"].recipient == "chat:ada@example.com"


def test_quiet_hours_whatever_the_name(channels, customer, make_order, sms_outbox):
    consent(customer)
    order = make_order(user=customer, email="ada@example.com", phone=PHONE)
    with time_machine.travel(NIGHT, tick=False):
        services.start_tracking(order)
    found = rows(order)
    assert found["email"].next_attempt_at == NIGHT
    assert found["text"].next_attempt_at == MORNING
    assert found["chat"].next_attempt_at == MORNING
    # Due early (a re-send, say): the worker holds it again at send time.
    Notification.objects.filter(pk=found["text"].pk).update(next_attempt_at=NIGHT)
    with time_machine.travel(NIGHT, tick=False):
        assert delivery.deliver(found["text"].pk) == delivery.POSTPONED
    with time_machine.travel(MORNING, tick=False):
        assert delivery.deliver(found["text"].pk) == delivery.SENT
    [sms] = sms_outbox
    assert (sms.to, sms.sender) == (PHONE, "Shop")


def test_the_quiet_hours_option_overrides_the_class(channels, customer, make_order):
    channels(
        email={"BACKEND": EMAIL, "OPTIONS": {"quiet_hours": True}},
        text={**TEXT, "OPTIONS": {**TEXT["OPTIONS"], "quiet_hours": False}},
    )
    consent(customer)
    order = make_order(user=customer, email="ada@example.com", phone=PHONE)
    with time_machine.travel(NIGHT, tick=False):
        services.start_tracking(order)
    assert rows(order)["email"].next_attempt_at == MORNING
    assert rows(order)["text"].next_attempt_at == NIGHT


def test_templates_of_the_class_folder_are_found(
    channels, customer, make_order, tmp_path, settings, sms_outbox, daytime
):
    consent(customer)
    order = make_order(user=customer, email="ada@example.com", phone=PHONE)
    services.start_tracking(order, notify=False)
    services.set_status(order, "confirmed")
    row = rows(order)["text"]
    assert delivery.deliver(row.pk) == delivery.SENT
    # The package's sms/ template.
    assert sms_outbox[-1].body.startswith("Test Shop: ")

    # A file in the folder of the configured name wins over the class's folder.
    folder = tmp_path / "order_updates" / "notifications" / "text"
    folder.mkdir(parents=True)
    (folder / "order_confirmed_body.txt").write_text("From text/ {{ order.number }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    text = get_channel("text")
    number = get_adapter().get_number(order)
    assert text.build_message(row, order).text.startswith("From text/ %s" % number)

    # A merchant's template is keyed by the configured name, and its text is one
    # short paragraph, as for any SMS.
    template = save_template("order_confirmed", text, "en", body_text="A\n\n  B")
    assert template.channel == "text"
    message = text.build_message(row, order)
    # The channel adds the link the text lacks: the order's tracking page.
    assert is_tracking_link(message.url, order)
    assert message.text == "A B\n" + message.url


def test_label_and_consent_in_the_preferences_form(channels, customer):
    preference = preferences.preference_for(user=customer)
    form = PreferencesForm(preference=preference)
    assert form.fields["order"].choices == [
        ("email", "Email"),
        ("text", "Text message"),
        ("chat", "Chat"),
    ]
    assert str(form.fields["sms_consent"].label) == (
        "I agree to receive updates by text message and chat about my orders."
    )
    assert str(form.fields["timezone"].help_text) == (
        "Updates by text message and chat wait until morning here."
    )
    form = PreferencesForm(
        {"order": ["email", "chat"], "shipping": [], "timezone": ""},
        preference=preference,
    )
    assert not form.is_valid()
    assert form.errors["sms_consent"] == [
        "To get updates by chat, please agree to receive them."
    ]


def test_no_consent_box_without_a_channel_that_requires_it(channels, customer):
    channels(email=EMAIL)
    form = PreferencesForm(preference=preferences.preference_for(user=customer))
    assert "sms_consent" not in form.fields
    assert not form.fields["timezone"].help_text


def test_bounce_falls_back_to_the_channel_with_a_priority(
    channels, customer, make_order, daytime
):
    consent(customer)
    order = make_order(user=customer, email="ada@example.com", phone=PHONE)
    services.start_tracking(order)
    result = bounce(order, "bounce-1")
    # The chat channel has no fallback_priority: only "text" is a candidate.
    assert result.fallback is not None
    assert (result.fallback.channel, result.fallback.recipient) == ("text", PHONE)
    assert "queued by text message to %s" % PHONE in result.timeline_event.note


def bounce(order, event_id):
    """Send ``order``'s pending email and have the provider report a bounce."""
    email = rows(order)["email"]
    Notification.objects.filter(order_id=order.pk).exclude(pk=email.pk).delete()
    assert delivery.deliver(email.pk) == delivery.SENT
    return feedback.record_delivery_feedback(
        Notification.objects.get(pk=email.pk),
        provider="postmark",
        event_id=event_id,
        event_type="bounced",
    )


def test_fallback_skips_addresses_and_channels_that_cannot_be_used(
    channels, customer, make_order, daytime
):
    class PagerChannel(ChatChannel):
        requires_consent = False
        quiet_hours = False
        fallback_priority = 5

        def recipients(self, order, adapter, preference):
            return ["pager:1", "pager:2"]

    channels(email=EMAIL, text=TEXT, pager=PagerChannel)
    consent(customer)
    pager = get_channel("pager")
    # The pager comes first (5 < 10); its first address is suppressed.
    preferences.suppress(pager, "pager:1")
    order = make_order(user=customer, email="ada@example.com", phone=PHONE)
    services.start_tracking(order)
    fallback = bounce(order, "bounce-1").fallback
    assert (fallback.channel, fallback.recipient) == ("pager", "pager:2")
    assert fallback.state == NotificationState.PENDING
    # With every pager address suppressed, the text channel is next.
    preferences.suppress(pager, "pager:2")
    SuppressedRecipient.objects.filter(channel="email").delete()  # the bounce's
    other = make_order(user=customer, email="ada@example.com", phone=PHONE)
    services.start_tracking(other)
    fallback = bounce(other, "bounce-2").fallback
    assert (fallback.channel, fallback.recipient) == ("text", PHONE)


def test_suppression_normalises_as_the_class_does(channels, customer, make_order):
    consent(customer)
    text = get_channel("text")
    row, _created = preferences.suppress(text, "+1 (415) 555-0123")
    assert (row.channel, row.address) == ("text", PHONE)
    order = make_order(user=customer, email="ada@example.com", phone="+1 415-555-0123")
    services.start_tracking(order)
    assert rows(order)["text"].state == NotificationState.SUPPRESSED
    assert SuppressedRecipient.objects.count() == 1
