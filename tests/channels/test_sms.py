"""The SMS channel, its segment calculator, and the console and test providers."""

import io
import logging
from types import SimpleNamespace

import pytest
from django.utils import timezone

from order_updates.core.adapter import DefaultOrderAdapter, get_adapter
from order_updates.exceptions import (
    OrderUpdatesConfigurationError,
    PermanentChannelError,
    TransientChannelError,
)
from order_updates.models import NotificationPreference
from order_updates.notifications.channels.base import OutgoingMessage
from order_updates.notifications.channels.sms import SMSChannel, normalize_phone
from order_updates.notifications.channels.sms import test as test_sms
from order_updates.notifications.channels.sms.base import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    BaseSMSProvider,
    sms_segments,
)
from order_updates.notifications.channels.sms.console import ConsoleSMSProvider
from order_updates.notifications.channels.sms.test import TestSMSProvider
from tests.links import is_tracking_link
from tests.testapps.customershop.models import Customer


def outgoing(**overrides):
    values = {
        "notification_id": 7,
        "channel": "sms",
        "type": "order_shipped",
        "recipient": "+14155550100",
        "language": "en",
        "text": "Order PS-1 has shipped: https://shop.example.com/t/abc/",
    }
    values.update(overrides)
    return OutgoingMessage(**values)


@pytest.fixture(autouse=True)
def clean_outbox():
    test_sms.reset()
    yield
    test_sms.reset()


TEST_PROVIDER = "order_updates.notifications.channels.sms.test.TestSMSProvider"
CONSOLE_PROVIDER = "order_updates.notifications.channels.sms.console.ConsoleSMSProvider"
TWILIO_PROVIDER = "order_updates.notifications.channels.sms.twilio.TwilioSMSProvider"


@pytest.fixture
def channel():
    return SMSChannel(
        "sms",
        provider={"BACKEND": TEST_PROVIDER, "OPTIONS": {"sender": "+15005550006"}},
    )


@pytest.fixture
def consent():
    return NotificationPreference(
        email="ada@example.com", sms_consent_at=timezone.now()
    )


# Segments -----------------------------------------------------------------------------


def test_gsm7_tables():
    # 128 code points minus the escape; 10 characters behind the escape.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 306, ("GSM-7", 2)),
        ("a" * 307, ("GSM-7", 3)),
        ("Grüße, Ñoño! @£$¥ èéùìò", ("GSM-7", 1)),
        # Extension characters take two septets.
        ("€" * 80, ("GSM-7", 1)),
        ("€" * 81, ("GSM-7", 2)),
        # ...and are not split: 152 septets, then an escape pair that won't fit.
        ("a" * 152 + "€" + "a" * 10, ("GSM-7", 2)),
        ("a" * 151 + "€" + "a" * 152 + "€", ("GSM-7", 3)),
        # One character outside GSM-7 switches the whole text to UCS-2.
        ("a" * 69 + "ç", ("UCS-2", 1)),
        ("Ваш заказ отправлен", ("UCS-2", 1)),
        ("ж" * 70, ("UCS-2", 1)),
        ("ж" * 71, ("UCS-2", 2)),
        ("ж" * 134, ("UCS-2", 2)),
        ("ж" * 135, ("UCS-2", 3)),
        # An emoji is a surrogate pair: two UTF-16 code units, never split.
        ("📦" * 35, ("UCS-2", 1)),
        ("📦" * 36, ("UCS-2", 2)),
        ("ж" * 66 + "📦", ("UCS-2", 1)),
        ("ж" * 66 + "📦" + "ж" * 4, ("UCS-2", 2)),
        ("ж" * 66 + "📦" * 34, ("UCS-2", 3)),
    ],
)
def test_sms_segments(text, expected):
    assert sms_segments(text) == expected


# Recipients ---------------------------------------------------------------------------


def test_customers_must_consent(channel, make_order, consent):
    from order_updates.notifications.preferences import wants

    assert channel.requires_consent
    order = make_order(phone="+14155550100")
    assert channel.recipients(order, get_adapter(), consent) == ["+14155550100"]
    assert wants(consent, "order", channel)
    # The caller checks consent (requires_consent), as for every such channel.
    no_consent = NotificationPreference(email="ada@example.com")
    assert not wants(no_consent, "order", channel)


def test_no_phone_no_recipient(channel, make_order, consent):
    assert channel.recipients(make_order(phone=""), get_adapter(), consent) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+14155550100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 415 555", ""),  # too short
        ("+999 123", ""),  # no such country
        ("call me", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_phone(value, expected):
    assert normalize_phone(value) == expected


def test_national_numbers_use_the_default_region(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "DE"
    assert normalize_phone("030 901820") == "+4930901820"


def test_staff_recipients_are_the_users_own_number(settings, django_user_model):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    # Whatever name the channel is configured under: it is the class that knows.
    channel = SMSChannel("texts", provider=TEST_PROVIDER)
    assert channel.staff_recipients(staff) == []
    Customer.objects.create(user=staff, email="staff@example.com", phone="+4930901820")
    staff.refresh_from_db()
    assert channel.staff_recipients(staff) == []  # the setting says where
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "USER_PHONE_FIELD": "customer__phone",
    }
    assert channel.staff_recipients(staff) == ["+4930901820"]


def test_staff_recipients_ask_the_adapter(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.channels.test_sms.DeskPhoneAdapter",
    }
    channel = SMSChannel("sms", provider=TEST_PROVIDER)
    assert channel.staff_recipients(SimpleNamespace(desk="+44 20 7946 0958")) == [
        "+442079460958"
    ]
    assert channel.staff_recipients(SimpleNamespace(desk="+1 415 555")) == []
    # The editor's hint cannot name a setting the adapter does not read.
    assert channel.staff_recipients_hint(SimpleNamespace(desk="")) == (
        "Give your account a valid phone number."
    )


class DeskPhoneAdapter(DefaultOrderAdapter):
    """A shop whose users' numbers the setting cannot reach: it overrides."""

    def get_user_phone(self, user):
        return user.desk  # not normalised: the channel checks it


def test_invalid_number_from_adapter_is_no_recipient(channel, order, consent):
    class Adapter(type(get_adapter())):
        def get_phone(self, order):
            return "+1 415 555"

    assert channel.recipients(order, Adapter(), consent) == []


# Building -----------------------------------------------------------------------------


TRACKING = "https://www.ups.com/track?tracknum=1Z999AA10123456784"


def shipped_notification(order, make_notification):
    from order_updates import services

    services.add_shipment(order, carrier="ups", tracking_url=TRACKING, notify=False)
    return make_notification(
        order, channel="sms", recipient="+14155550100", type="shipped"
    )


def test_build_message_carries_the_link_once(channel, order, make_notification):
    notification = shipped_notification(order, make_notification)
    message = channel.build_message(notification, order)
    # The order's tracking page, which links on to the carrier's.
    assert is_tracking_link(message.url, order)
    assert message.text.count(message.url) == 1
    assert message.html == ""


def test_build_message_appends_a_missing_link(channel, order, make_notification):
    from order_updates.notifications.templating import save_template

    # A merchant's text that forgets the link: the channel adds it.
    save_template("shipped", channel, "en", body_text="Shipped!")
    notification = shipped_notification(order, make_notification)
    message = channel.build_message(notification, order)
    assert is_tracking_link(message.url, order)
    assert message.text == "Shipped!\n" + message.url


# Sending ------------------------------------------------------------------------------


def test_send_with_test_provider(channel, caplog):
    with caplog.at_level(
        logging.INFO, logger="order_updates.notifications.channels.sms"
    ):
        result = channel.send(outgoing())

    assert result.provider == "test"
    assert result.message_id == "test-sms-1"
    [sms] = test_sms.outbox
    assert sms.to == "+14155550100"
    assert sms.body == "Order PS-1 has shipped: https://shop.example.com/t/abc/"
    assert sms.sender == "+15005550006"
    assert sms.idempotency_key == "7"
    assert (sms.encoding, sms.segments) == ("GSM-7", 1)
    [record] = caplog.records
    assert record.sms_segments == 1
    assert record.sms_encoding == "GSM-7"
    assert "1 segment(s)" in record.getMessage()


def test_test_provider_fail_next(channel):
    TestSMSProvider.fail_next()
    TestSMSProvider.fail_next(PermanentChannelError("Unsubscribed"))
    with pytest.raises(TransientChannelError):
        channel.send(outgoing())
    with pytest.raises(PermanentChannelError, match="Unsubscribed"):
        channel.send(outgoing())
    channel.send(outgoing())
    assert len(test_sms.outbox) == 1


def test_empty_text_is_permanent(channel):
    with pytest.raises(PermanentChannelError, match="empty"):
        channel.send(outgoing(text="  "))
    assert test_sms.outbox == []


def test_console_provider_prints(capsys):
    channel = SMSChannel(
        "sms",
        provider={"BACKEND": CONSOLE_PROVIDER, "OPTIONS": {"sender": "+15005550006"}},
    )
    result = channel.send(outgoing(text="Ваш заказ отправлен"))

    assert isinstance(channel.provider, ConsoleSMSProvider)
    assert result.provider == "console"
    assert len(result.message_id) == 32
    out = capsys.readouterr().out
    assert "To: +14155550100" in out
    assert "From: +15005550006" in out
    assert "UCS-2, 1 segment(s)" in out
    assert "Ваш заказ отправлен" in out
    assert result.message_id in out


def test_console_provider_stream():
    stream = io.StringIO()
    ConsoleSMSProvider(stream=stream).send_sms(
        "+14155550100", "Hi", idempotency_key="1"
    )
    assert "Hi" in stream.getvalue()
    assert "From: (no sender set)" in stream.getvalue()


def test_console_is_the_default_provider():
    assert isinstance(SMSChannel("sms").provider, ConsoleSMSProvider)


def test_provider_must_implement_send_sms():
    with pytest.raises(NotImplementedError, match="must implement send_sms"):
        BaseSMSProvider().send_sms("+14155550100", "Hi", idempotency_key="1")


@pytest.mark.parametrize(
    "provider",
    [
        TEST_PROVIDER,
        TestSMSProvider,
        {"BACKEND": TEST_PROVIDER},
        {"BACKEND": TestSMSProvider, "OPTIONS": {"sender": "Shop"}},
    ],
)
def test_provider_given_as_path_class_or_dict(provider):
    assert isinstance(SMSChannel("sms", provider=provider).provider, TestSMSProvider)


def test_provider_options_are_its_keyword_arguments():
    channel = SMSChannel(
        "text", provider={"BACKEND": TEST_PROVIDER, "OPTIONS": {"sender": "Shop"}}
    )
    assert channel.provider.sender == "Shop"
    channel.send(outgoing())
    assert test_sms.outbox[0].sender == "Shop"


# Checks -------------------------------------------------------------------------------


def test_check_ok(channel):
    assert channel.check() == []


def test_check_names_the_key_of_an_empty_twilio_option():
    channel = SMSChannel(
        "text",
        provider={
            "BACKEND": TWILIO_PROVIDER,
            "OPTIONS": {"account_sid": "", "auth_token": "x", "sender": "+1"},
        },
    )
    [problem] = channel.check()
    assert problem.startswith(
        "ORDER_UPDATES['CHANNELS']['text']['OPTIONS']['provider']['OPTIONS']"
        "['account_sid'] is empty"
    )


def test_check_prefixes_provider_problems_with_its_key():
    class PickyProvider(TestSMSProvider):
        def check(self):
            return ["Set 'sender' to the shop's number."]

    [problem] = SMSChannel("sms", provider=PickyProvider).check()
    assert problem == (
        "ORDER_UPDATES['CHANNELS']['sms']['OPTIONS']['provider']: Set 'sender' to the "
        "shop's number."
    )


@pytest.mark.parametrize(
    ("provider", "key", "message"),
    [
        ("shop.sms.Nope", "['provider']", "could not import"),
        (
            "order_updates.notifications.channels.sms.SMSChannel",
            "['provider']",
            "BaseSMSProvider",
        ),
        ({"BACKEND": "shop.sms.Nope"}, "['provider']['BACKEND']", "could not import"),
        ({"OPTIONS": {}}, "['provider']['BACKEND']", "is missing"),
        (
            {"BACKEND": TEST_PROVIDER, "OPTIONS": {"from": "+1"}},
            "['provider']['OPTIONS']['from']",
            "not an option of TestSMSProvider (its options: sender)",
        ),
        (
            {"BACKEND": TWILIO_PROVIDER, "OPTIONS": {"auth_token": "x"}},
            "['provider']['OPTIONS']['account_sid']",
            "is missing",
        ),
    ],
)
def test_bad_provider_settings_name_the_key(provider, key, message):
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        SMSChannel("sms", provider=provider)
    assert str(info.value).startswith(
        "ORDER_UPDATES['CHANNELS']['sms']['OPTIONS']" + key
    )
    assert message in str(info.value)
