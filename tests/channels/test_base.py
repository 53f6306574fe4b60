"""Channel capabilities, and building channels from ``ORDER_UPDATES["CHANNELS"]``."""

import re

import pytest

from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.notifications.channels import get_channel, get_channels
from order_updates.notifications.channels.base import BaseChannel, SendResult
from order_updates.notifications.channels.email import EmailChannel
from order_updates.notifications.channels.push import WebPushChannel
from order_updates.notifications.channels.sms import SMSChannel
from order_updates.notifications.channels.test import TestChannel

SMS = "order_updates.notifications.channels.sms.SMSChannel"
TEST_PROVIDER = "order_updates.notifications.channels.sms.test.TestSMSProvider"


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (EmailChannel, (("subject", "text", "html"), False, "email", False, False)),
        (SMSChannel, (("text",), True, "text message", True, True)),
        (
            WebPushChannel,
            (("subject", "text"), True, "browser notification", False, True),
        ),
        (TestChannel, (("subject", "text", "html"), False, "email", False, False)),
    ],
)
def test_capabilities_of_the_shipped_channels(cls, expected):
    channel = cls("anything")
    found = (
        channel.parts,
        channel.short_text,
        str(channel.label),
        channel.requires_consent,
        channel.quiet_hours,
    )
    assert found == expected


def test_template_folders_fallback_priorities_and_addresses():
    email, sms, push, test = (
        EmailChannel("mail"),
        SMSChannel("text"),
        WebPushChannel("browser"),
        TestChannel("test"),
    )
    assert [c.template_folder for c in (email, sms, push, test)] == [
        "email",
        "sms",
        "push",
        "email",
    ]
    assert [c.fallback_priority for c in (email, sms, push, test)] == [
        None,
        10,
        None,
        None,
    ]
    assert email.normalize_address(" Ada@Example.COM ") == "ada@example.com"
    assert sms.normalize_address("+1 (415) 555-0123") == "+14155550123"
    assert sms.normalize_address(" not a number ") == "not a number"
    assert push.normalize_address(" 12 ") == "12"


class ChatChannel(BaseChannel):
    """A channel with the base's capabilities."""

    def recipients(self, order, adapter, preference):
        return []

    def send(self, message):
        return SendResult(provider="chat")


def test_base_capabilities_and_label_default_to_the_name():
    chat = ChatChannel("chat")
    assert chat.label == "chat"
    assert (chat.parts, chat.short_text, chat.template_folder) == (
        ("text",),
        False,
        "email",
    )
    assert not (chat.requires_consent or chat.quiet_hours)
    assert chat.fallback_priority is None
    assert chat.option_name("token") == (
        "ORDER_UPDATES['CHANNELS']['chat']['OPTIONS']['token']"
    )


def test_the_quiet_hours_option_overrides_the_class():
    assert SMSChannel("sms", quiet_hours=False).quiet_hours is False
    assert EmailChannel("email", quiet_hours=True).quiet_hours is True
    assert SMSChannel("sms").quiet_hours is True
    with pytest.raises(OrderUpdatesConfigurationError, match="'quiet_hours'"):
        ChatChannel("chat", quiet_hours="no")


# Settings ---------------------------------------------------------------------------


@pytest.fixture
def configure(settings):
    def configure(channels):
        settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "CHANNELS": channels}

    return configure


@pytest.mark.parametrize(
    "setting",
    [
        SMS,
        SMSChannel,
        {"BACKEND": SMS},
        {"BACKEND": SMSChannel, "OPTIONS": {}},
        {"BACKEND": SMS, "OPTIONS": {"provider": TEST_PROVIDER}},
    ],
    ids=["dotted path", "class", "dict", "dict with a class", "dict with options"],
)
def test_channels_in_every_accepted_shape(configure, setting):
    configure({"text": setting})
    channel = get_channel("text")
    assert type(channel) is SMSChannel
    assert channel.name == "text"
    assert get_channels() == {"text": channel}
    assert get_channel("text") is channel  # built once


def test_options_are_keyword_arguments(configure):
    configure(
        {
            "mail": {
                "BACKEND": "order_updates.notifications.channels.email.EmailChannel",
                "OPTIONS": {
                    "from_email": "Shop <orders@shop.example.com>",
                    "reply_to": "help@shop.example.com",
                    "quiet_hours": True,
                },
            }
        }
    )
    channel = get_channel("mail")
    assert channel.from_email == "Shop <orders@shop.example.com>"
    assert channel.reply_to == ["help@shop.example.com"]
    assert channel.quiet_hours is True


class OptionsChannel(ChatChannel):
    """Takes a required option, and passes the rest on to the base."""

    def __init__(self, name, *, token, **options):
        super().__init__(name, **options)
        self.token = token


def test_options_passed_on_to_the_base_are_checked_too(configure):
    configure({"chat": {"BACKEND": OptionsChannel, "OPTIONS": {"token": "t"}}})
    assert get_channel("chat").token == "t"
    configure(
        {"chat": {"BACKEND": OptionsChannel, "OPTIONS": {"token": "t", "tokn": 1}}}
    )
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        get_channel("chat")
    assert str(info.value) == (
        "ORDER_UPDATES['CHANNELS']['chat']['OPTIONS']['tokn'] is not an option of "
        "OptionsChannel (its options: token, quiet_hours)."
    )


KEY = "ORDER_UPDATES['CHANNELS']['sms']"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("shop.channels.Nope", KEY + ": could not import 'shop.channels.Nope'"),
        ({"BACKEND": "shop.Nope"}, KEY + "['BACKEND']: could not import"),
        ({"OPTIONS": {}}, KEY + "['BACKEND'] is missing"),
        ({"BACKEND": SMS, "OPTION": {}}, KEY + " has unknown keys (OPTION)"),
        ({"BACKEND": SMS, "OPTIONS": ["x"]}, KEY + "['OPTIONS'] must be a dict"),
        (
            "order_updates.notifications.channels.sms.test.TestSMSProvider",
            KEY + " must name a subclass of "
            "order_updates.notifications.channels.base.BaseChannel",
        ),
        (42, KEY + " must be a dotted path, a class, or"),
        (
            {"BACKEND": SMS, "OPTIONS": {"sender": "+1"}},
            KEY + "['OPTIONS']['sender'] is not an option of SMSChannel (its "
            "options: provider, quiet_hours).",
        ),
        (
            {"BACKEND": SMS, "OPTIONS": {"provider": {"BACKEND": "nope.Nope"}}},
            KEY + "['OPTIONS']['provider']['BACKEND']: could not import",
        ),
        (
            {"BACKEND": SMS, "OPTIONS": {"quiet_hours": 1}},
            KEY + "['OPTIONS']['quiet_hours'] must be True or False",
        ),
    ],
)
def test_bad_settings_name_the_key(configure, setting, message):
    configure({"sms": setting})
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        get_channel("sms")
    assert str(info.value).startswith(message)


def test_unknown_channel_and_bad_channels_setting(configure):
    configure({"email": "order_updates.notifications.channels.email.EmailChannel"})
    with pytest.raises(
        OrderUpdatesConfigurationError, match=r"No channel 'sms'.*email"
    ):
        get_channel("sms")
    configure(["email"])
    with pytest.raises(
        OrderUpdatesConfigurationError,
        match=re.escape("ORDER_UPDATES['CHANNELS'] must be a dict"),
    ):
        get_channels()
