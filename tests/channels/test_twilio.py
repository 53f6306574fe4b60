"""Twilio's REST API, mocked at the HTTP layer."""

import base64

import pytest
import requests

from order_updates.exceptions import (
    OrderUpdatesConfigurationError,
    PermanentChannelError,
    TransientChannelError,
)
from order_updates.notifications.channels.base import OutgoingMessage
from order_updates.notifications.channels.sms import SMSChannel
from order_updates.notifications.channels.sms.twilio import TwilioSMSProvider
from tests.http_mock import form_body

SID = "AC00000000000000000000000000000001"
URL = "https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json" % SID


OPTIONS = {"account_sid": SID, "auth_token": "secret-token", "sender": "+15005550006"}


def sms_channel(**changes):
    """An SMS channel whose provider is Twilio, with OPTIONS changed by ``changes``."""
    return SMSChannel(
        "sms",
        provider={
            "BACKEND": TwilioSMSProvider,
            "OPTIONS": {**OPTIONS, **changes},
        },
    )


@pytest.fixture
def channel():
    return sms_channel()


def outgoing(text="Order PS-1 has shipped: https://shop.example.com/t/abc/"):
    return OutgoingMessage(
        notification_id=7,
        channel="sms",
        type="order_shipped",
        recipient="+14155550100",
        language="en",
        text=text,
    )


def twilio_error(code, message, status):
    return {
        "code": code,
        "message": message,
        "more_info": "https://www.twilio.com/docs/errors/%s" % code,
        "status": status,
    }


def test_send(channel, http):
    http.add(
        "POST",
        URL,
        status=201,
        json={"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"},
    )
    result = channel.send(outgoing())

    assert result.provider == "twilio"
    assert result.message_id == "SM0123456789abcdef0123456789abcdef"
    request = http.last_request
    assert form_body(request) == {
        "To": ["+14155550100"],
        "From": ["+15005550006"],
        "Body": ["Order PS-1 has shipped: https://shop.example.com/t/abc/"],
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(b"%s:secret-token" % SID.encode()).decode()
    assert request.headers["Authorization"] == "Basic %s" % expected


def test_messaging_service_replaces_from(http):
    channel = sms_channel(messaging_service_sid="MG00000000000000000000000000000001")
    http.add("POST", URL, status=201, json={"sid": "SM1"})
    channel.send(outgoing(text="Ваш заказ отправлен"))

    form = form_body(http.last_request)
    assert form["MessagingServiceSid"] == ["MG00000000000000000000000000000001"]
    assert "From" not in form
    assert form["Body"] == ["Ваш заказ отправлен"]


def test_accepted_without_readable_sid_is_still_sent(channel, http):
    http.add("POST", URL, status=201, body="not json")
    assert channel.send(outgoing()).message_id == ""


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (21211, "The 'To' number +14155550100 is not a valid phone number."),
        (21614, "'To' number is not a valid mobile number"),
        (21610, "Attempt to send to unsubscribed recipient"),
    ],
)
def test_recipient_errors_are_permanent(channel, http, code, text):
    http.add("POST", URL, status=400, json=twilio_error(code, text, 400))
    with pytest.raises(PermanentChannelError) as info:
        channel.send(outgoing())
    assert type(info.value) is PermanentChannelError
    assert "Twilio error %s" % code in str(info.value)
    assert info.value.provider_response["code"] == code


def test_other_client_errors_are_permanent(channel, http):
    http.add(
        "POST",
        URL,
        status=400,
        json=twilio_error(21408, "Permission to send an SMS has not been enabled", 400),
    )
    with pytest.raises(PermanentChannelError, match="21408"):
        channel.send(outgoing())


def test_bad_credentials_are_permanent_and_say_so(channel, http):
    http.add("POST", URL, status=401, json=twilio_error(20003, "Authenticate", 401))
    with pytest.raises(PermanentChannelError) as info:
        channel.send(outgoing())
    assert "'account_sid'" in str(info.value)
    assert "'auth_token'" in str(info.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, twilio_error(20429, "Too Many Requests", 429)),
        (500, twilio_error(20500, "Internal Server Error", 500)),
        (503, twilio_error(20503, "Service Unavailable", 503)),
        (502, None),
    ],
)
def test_rate_limits_and_server_errors_are_transient(channel, http, status, body):
    if body is None:
        http.add("POST", URL, status=status, body="<html>Bad Gateway</html>")
    else:
        http.add("POST", URL, status=status, json=body)
    with pytest.raises(TransientChannelError, match="HTTP %s" % status):
        channel.send(outgoing())


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectTimeout("connect timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("connection refused"),
    ],
)
def test_network_errors_are_transient(channel, http, error):
    http.add_error("POST", URL, error)
    with pytest.raises(TransientChannelError):
        channel.send(outgoing())


PROVIDER_KEY = "ORDER_UPDATES['CHANNELS']['sms']['OPTIONS']['provider']['OPTIONS']"


@pytest.mark.parametrize("option", ["account_sid", "auth_token"])
def test_empty_credentials_name_the_key(option):
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        sms_channel(**{option: ""}).provider.send_sms("+1", "Hi", idempotency_key="1")
    assert str(info.value).startswith("%s[%r] is empty" % (PROVIDER_KEY, option))


@pytest.mark.parametrize("option", ["account_sid", "auth_token"])
def test_missing_credentials_name_the_key(option):
    options = {key: value for key, value in OPTIONS.items() if key != option}
    with pytest.raises(OrderUpdatesConfigurationError) as info:
        SMSChannel("sms", provider={"BACKEND": TwilioSMSProvider, "OPTIONS": options})
    assert str(info.value) == (
        "%s[%r] is missing: TwilioSMSProvider needs it." % (PROVIDER_KEY, option)
    )


def test_missing_sender_names_both_options():
    with pytest.raises(
        OrderUpdatesConfigurationError,
        match=r"\['messaging_service_sid'\] or 'sender' is needed",
    ):
        sms_channel(sender="").provider.send_sms("+1", "Hi", idempotency_key="1")


def test_provider_built_directly():
    provider = TwilioSMSProvider(account_sid=SID, auth_token="t", sender="+1")
    assert provider.check() == []
    with pytest.raises(OrderUpdatesConfigurationError, match="'auth_token' is empty"):
        TwilioSMSProvider(account_sid=SID, auth_token="", sender="+1")


def test_check():
    assert sms_channel().check() == []
    [problem] = sms_channel(auth_token="").check()
    assert problem.startswith("%s['auth_token'] is empty" % PROVIDER_KEY)
