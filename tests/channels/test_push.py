"""Web push: real VAPID signing and payload encryption, the push service mocked."""

import base64
import json
import os
import re

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid

from order_updates.core.adapter import get_adapter
from order_updates.exceptions import (
    OrderUpdatesConfigurationError,
    PermanentChannelError,
    RecipientGone,
    TransientChannelError,
)
from order_updates.models import NotificationPreference, PushSubscription
from order_updates.notifications.channels import get_channel
from order_updates.notifications.channels.base import OutgoingMessage
from order_updates.notifications.channels.push import WebPushChannel, vapid_public_key

ENDPOINT = "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABabc123"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def vapid():
    key = Vapid()
    key.generate_keys()
    return key


@pytest.fixture
def vapid_options(vapid):
    """The channel's options: the key pair, the subject and a TTL."""
    private_raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return {
        "vapid_private_key": b64url(private_raw),
        "vapid_public_key": vapid_public_key(vapid),
        "vapid_subject": "mailto:shop@example.com",
        "ttl": 3600,
    }


def push_channel(options, **changes):
    return WebPushChannel("push", **{**options, **changes})


@pytest.fixture
def browser():
    """A browser's push keys: its ECDH key pair and auth secret."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    public = private_key.public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint
    )
    return {
        "private_key": private_key,
        "p256dh": b64url(public),
        "auth": os.urandom(16),
    }


@pytest.fixture
def subscription(db, browser, django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    return PushSubscription.objects.create(
        user=user,
        endpoint=ENDPOINT,
        p256dh=browser["p256dh"],
        auth=b64url(browser["auth"]),
        user_agent="Firefox",
    )


@pytest.fixture
def channel(vapid_options):
    return push_channel(vapid_options)


def outgoing(subscription, **overrides):
    values = {
        "notification_id": 9,
        "channel": "push",
        "type": "order_shipped",
        "recipient": str(subscription.pk),
        "language": "en",
        "subject": "Your order is on its way",
        "text": "Order PS-1 has shipped.",
        "url": "https://shop.example.com/t/abc/",
        "metadata": {"order_updates_order": "PS-1"},
    }
    values.update(overrides)
    return OutgoingMessage(**values)


def decrypt(request, browser):
    body = http_ece.decrypt(
        request.body,
        private_key=browser["private_key"],
        auth_secret=browser["auth"],
        version="aes128gcm",
    )
    return json.loads(body)


# Recipients ---------------------------------------------------------------------------


def test_recipients_are_the_users_subscriptions(channel, make_order, subscription):
    other = PushSubscription.objects.create(
        user=subscription.user, endpoint=ENDPOINT + "2", p256dh="k", auth="a"
    )
    PushSubscription.objects.create(
        email="someone@example.com", endpoint=ENDPOINT + "3", p256dh="k", auth="a"
    )
    order = make_order(user=subscription.user)
    preference = NotificationPreference(user=subscription.user)
    assert channel.recipients(order, get_adapter(), preference) == [
        str(subscription.pk),
        str(other.pk),
    ]


def test_guests_are_found_by_email(channel, make_order, db):
    guest = PushSubscription.objects.create(
        email="guest@example.com", endpoint=ENDPOINT, p256dh="k", auth="a"
    )
    order = make_order(email="Guest@Example.com")
    preference = NotificationPreference(email="guest@example.com")
    assert channel.recipients(order, get_adapter(), preference) == [str(guest.pk)]
    nobody = make_order(email="")
    assert channel.recipients(nobody, get_adapter(), preference) == []


def test_build_message_remembers_the_order(channel, order, make_notification):
    notification = make_notification(order, channel="push", recipient="1")
    message = channel.build_message(notification, order)
    assert message.metadata["order_updates_order"] == get_adapter().get_number(order)
    assert message.subject and message.text
    assert message.html == ""


# Sending ------------------------------------------------------------------------------


def test_send_encrypted_and_signed(channel, subscription, browser, vapid, http):
    http.add("POST", ENDPOINT, status=201, headers={"Location": ENDPOINT + "/m/1"})
    result = channel.send(outgoing(subscription))

    request = http.last_request
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["TTL"] == "3600"
    assert request.headers["Urgency"] == "normal"
    assert len(request.headers["Topic"]) == 32
    assert decrypt(request, browser) == {
        "title": "Your order is on its way",
        "body": "Order PS-1 has shipped.",
        "url": "https://shop.example.com/t/abc/",
        "tag": "order-PS-1",
    }

    authorization = request.headers["Authorization"]
    assert authorization.startswith("vapid t=")
    assert Vapid.verify(authorization)
    params = dict(part.split("=", 1) for part in authorization[6:].split(","))
    assert params["k"] == vapid_public_key(vapid)
    claims = json.loads(b64url_decode(params["t"].split(".")[1]))
    assert claims["aud"] == "https://updates.push.services.mozilla.com"
    assert claims["sub"] == "mailto:shop@example.com"

    assert result.provider == "webpush"
    assert result.message_id == ENDPOINT + "/m/1"
    subscription.refresh_from_db()
    assert subscription.last_used_at is not None


def test_same_order_same_topic(channel, subscription, http):
    http.add("POST", ENDPOINT, status=201)
    http.add("POST", ENDPOINT, status=201)
    http.add("POST", ENDPOINT, status=201)
    channel.send(outgoing(subscription, notification_id=1))
    channel.send(outgoing(subscription, notification_id=2))
    channel.send(outgoing(subscription, metadata={"order_updates_order": "PS-2"}))
    first, second, other = (request.headers["Topic"] for request in http.requests)
    assert first == second != other


def test_pem_private_key(vapid_options, vapid, subscription, browser, http):
    channel = push_channel(
        vapid_options, vapid_private_key=vapid.private_pem().decode()
    )
    http.add("POST", ENDPOINT, status=201)
    channel.send(outgoing(subscription))
    assert Vapid.verify(http.last_request.headers["Authorization"])
    assert channel.check() == []


def test_long_body_is_shortened(channel, subscription, browser, http):
    http.add("POST", ENDPOINT, status=201)
    channel.send(outgoing(subscription, text="ж" * 5000))
    payload = decrypt(http.last_request, browser)
    assert payload["body"].endswith("…")
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= 3000


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription(channel, subscription, http, status):
    http.add("POST", ENDPOINT, status=status)
    with pytest.raises(RecipientGone):
        channel.send(outgoing(subscription))
    channel.forget_recipient(str(subscription.pk))
    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_deleted_subscription_is_gone(channel, subscription, http):
    message = outgoing(subscription)
    subscription.delete()
    with pytest.raises(RecipientGone):
        channel.send(message)
    channel.forget_recipient("not-a-number")  # harmless


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_transient_statuses(channel, subscription, http, status):
    http.add("POST", ENDPOINT, status=status, headers={"Retry-After": "60"})
    with pytest.raises(TransientChannelError):
        channel.send(outgoing(subscription))


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_permanent_statuses(channel, subscription, http, status):
    http.add("POST", ENDPOINT, status=status)
    with pytest.raises(PermanentChannelError) as info:
        channel.send(outgoing(subscription))
    assert type(info.value) is PermanentChannelError
    if status in (401, 403):
        assert "vapid_public_key" in str(info.value)


@pytest.mark.parametrize(
    "error", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")]
)
def test_network_errors_are_transient(channel, subscription, http, error):
    http.add_error("POST", ENDPOINT, error)
    with pytest.raises(TransientChannelError):
        channel.send(outgoing(subscription))


def test_broken_subscription_keys_are_permanent(channel, subscription, http):
    subscription.p256dh = "not-a-key"
    subscription.save()
    with pytest.raises(PermanentChannelError):
        channel.send(outgoing(subscription))
    assert len(http.calls) == 0


# Configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["vapid_private_key", "vapid_subject"])
def test_missing_vapid_options_name_the_key(vapid_options, subscription, option):
    key = "ORDER_UPDATES['CHANNELS']['push']['OPTIONS'][%r]" % option
    with pytest.raises(OrderUpdatesConfigurationError, match=re.escape(key)):
        push_channel(vapid_options, **{option: ""}).send(outgoing(subscription))


def test_bad_subject_names_the_key(vapid_options, subscription):
    channel = push_channel(vapid_options, vapid_subject="shop@example.com")
    with pytest.raises(OrderUpdatesConfigurationError, match="'vapid_subject'"):
        channel.send(outgoing(subscription))


def test_bad_private_key_names_the_key(vapid_options, subscription):
    channel = push_channel(vapid_options, vapid_private_key="bm90IGEga2V5")
    with pytest.raises(OrderUpdatesConfigurationError, match="'vapid_private_key'"):
        channel.send(outgoing(subscription))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("ttl", "1 day"),
        ("ttl", -1),
        ("hosts", "fcm.googleapis.com"),
        ("hosts", ["fcm.googleapis.com", ""]),
        ("vapid_subject", None),
        ("quiet_hours", "yes"),
    ],
)
def test_bad_option_values_are_refused(settings, option, value):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "push": {
                "BACKEND": "order_updates.notifications.channels.push.WebPushChannel",
                "OPTIONS": {option: value},
            }
        },
    }
    key = "ORDER_UPDATES['CHANNELS']['push']['OPTIONS'][%r]" % option
    with pytest.raises(OrderUpdatesConfigurationError, match=re.escape(key)):
        get_channel("push")


def test_missing_extra_names_it(channel, subscription, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pywebpush", None)  # as if not installed
    with pytest.raises(OrderUpdatesConfigurationError, match=r"\[push\]"):
        channel.send(outgoing(subscription))
    assert "django-order-updates[push]" in channel.check()[0]


def test_check(channel, vapid_options):
    assert channel.check() == []
    other = Vapid()
    other.generate_keys()
    problems = push_channel(
        vapid_options,
        vapid_public_key=vapid_public_key(other),
        vapid_subject="shop@example.com",
    ).check()
    assert len(problems) == 2
    assert "mailto:" in problems[0]
    assert "'vapid_subject'" in problems[0]
    assert "not the public half" in problems[1]
    assert "'vapid_public_key'" in problems[1]
    problems = WebPushChannel("push").check()
    assert len(problems) == 3
    for problem, option in zip(
        problems,
        ["vapid_private_key", "vapid_public_key", "vapid_subject"],
        strict=True,
    ):
        assert "ORDER_UPDATES['CHANNELS']['push']['OPTIONS'][%r]" % option in problem


# Test sends from the template editor ------------------------------------------------


def test_a_test_send_goes_to_the_staff_members_own_browsers(
    channel, subscription, browser, http, django_user_model
):
    from order_updates.notifications.proofs import send_proof

    stranger = django_user_model.objects.create_user("eve", "eve@example.com", "pw")
    PushSubscription.objects.create(
        user=stranger, endpoint=ENDPOINT + "-eve", p256dh="k", auth="a"
    )
    assert channel.staff_recipients(subscription.user) == [str(subscription.pk)]
    http.add("POST", ENDPOINT, status=201, headers={"Location": ENDPOINT + "/m/2"})
    sent = send_proof(
        "shipped", channel, "en", subscription.user, subject="Test {{ order.number }}"
    )
    assert [address for address, _result in sent] == [str(subscription.pk)]
    payload = decrypt(http.last_request, browser)
    assert payload["title"] == "[Test] Test 1001"
    assert payload["body"]  # the default push text, rendered with sample data
    assert len(http.requests) == 1  # not to the other user's browser
