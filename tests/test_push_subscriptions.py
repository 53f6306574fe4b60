"""Collecting push subscriptions: the endpoints, the service worker, the button.

Everything goes through real HTTP: Django's test client, or for the scripts a
live server that Node (with the browser's push APIs faked) talks to. Only the
push service itself is mocked, at the HTTP layer.
"""

import base64
import html.parser
import json
import os
import shutil
import subprocess
from pathlib import Path

import django
import http_ece
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core import signing
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.crypto import get_random_string
from py_vapid import Vapid

import order_updates
from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.models import Notification, NotificationState, PushSubscription
from order_updates.notifications import delivery
from order_updates.notifications.channels.push import subscriptions as push
from order_updates.notifications.channels.push import vapid_public_key
from order_updates.notifications.channels.push import views as push_views
from order_updates.notifications.channels.push.channel import DEFAULT_HOSTS
from order_updates.notifications.links import make_push_token, make_token

ENDPOINT = "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABtest"
STATIC = Path(order_updates.__file__).parent / "static" / "order_updates"
SCRIPTS = [STATIC / "push-sw.js", STATIC / "push-subscribe.js"]
HARNESS = Path(__file__).parent / "push_js_harness.js"
NODE = shutil.which("node")
if NODE is None and os.environ.get("CI"):
    raise RuntimeError("CI needs Node.js (node) to check the push scripts.")
needs_node = pytest.mark.skipif(
    NODE is None,
    # The only reason to skip: without a JavaScript engine there is nothing to
    # parse or run the scripts with. Everywhere else these tests must run.
    reason="Node.js (node) is not on PATH: the push scripts cannot be checked",
)

SUBSCRIPTIONS = "order_updates:push_subscriptions"
DELETE = "order_updates:push_subscription_delete"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_browser():
    """A browser's push keys: its ECDH key pair and auth secret."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    public = private_key.public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    return {
        "private_key": private_key,
        "p256dh": b64url(public),
        "auth_bytes": auth,
        "auth": b64url(auth),
    }


@pytest.fixture(scope="module")
def vapid():
    key = Vapid()
    key.generate_keys()
    return key


EMAIL_CHANNEL = "order_updates.notifications.channels.email.EmailChannel"


def push_channels(**options):
    """``CHANNELS`` with email, and push with these options."""
    return {
        "email": EMAIL_CHANNEL,
        "push": {
            "BACKEND": "order_updates.notifications.channels.push.WebPushChannel",
            "OPTIONS": options,
        },
    }


@pytest.fixture
def push_options(vapid):
    """The push channel's options: a real VAPID key pair."""
    private_raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return {
        "vapid_private_key": b64url(private_raw),
        "vapid_public_key": vapid_public_key(vapid),
        "vapid_subject": "mailto:shop@example.com",
        # The real services, plus a test one for the length checks below.
        "hosts": [*DEFAULT_HOSTS, "push.example.com"],
    }


@pytest.fixture
def push_settings(db, settings, push_options):
    """Push configured as a shop would: the channel, a real VAPID key pair."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": push_channels(**push_options),
        "PREFERENCES_LINK_MAX_AGE": None,
    }
    return settings


@pytest.fixture
def browser():
    return new_browser()


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", "ada@example.com", "pw")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "pw")


def subscription_json(browser, endpoint=ENDPOINT, **extra):
    """What ``PushSubscription.toJSON()`` gives in a browser."""
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": browser["p256dh"], "auth": browser["auth"]},
        **extra,
    }


def post(client, data, name=SUBSCRIPTIONS, **headers):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(
        reverse(name), body, content_type="application/json", headers=headers
    )


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def strict_logged_in(user):
    """A logged-in client that enforces CSRF, with a CSRF cookie; and its token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    secret = get_random_string(32)
    client.cookies["csrftoken"] = secret
    return client, secret


# The public key and the service worker ---------------------------------------------


def test_key_endpoint(client, push_settings, vapid):
    response = client.get(reverse("order_updates:push_key"))
    assert response.status_code == 200
    assert response.json() == {"publicKey": vapid_public_key(vapid)}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("push", ["no key", "no push channel"])
def test_key_endpoint_without_push(client, push_settings, push_options, push):
    channels = (
        push_channels(**{**push_options, "vapid_public_key": ""})
        if push == "no key"
        else {"email": EMAIL_CHANNEL}
    )
    push_settings.ORDER_UPDATES = {**push_settings.ORDER_UPDATES, "CHANNELS": channels}
    response = client.get(reverse("order_updates:push_key"))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "not configured" in response.json()["error"]


def test_service_worker_is_served_for_any_scope(client):
    url = reverse("order_updates:push_service_worker")
    assert url == "/order-updates/push/service-worker.js"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == (STATIC / "push-sw.js").read_bytes()
    assert b'addEventListener("push"' in response.content
    assert b'addEventListener("notificationclick"' in response.content

    revalidated = client.get(url, headers={"If-None-Match": response["ETag"]})
    assert revalidated.status_code == 304
    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


@needs_node
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_scripts_are_valid_javascript(script):
    result = subprocess.run(
        [NODE, "--check", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@needs_node
def test_served_service_worker_is_valid_javascript(client, tmp_path):
    served = tmp_path / "service-worker.js"
    served.write_bytes(client.get(reverse("order_updates:push_service_worker")).content)
    result = subprocess.run([NODE, "--check", str(served)], capture_output=True)
    assert result.returncode == 0, result.stderr


# Subscribing ------------------------------------------------------------------------


def test_logged_in_customer_subscribes(push_settings, ada, browser):
    client = logged_in(ada)
    response = post(client, subscription_json(browser))
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert response.json() == {"id": subscription.pk}
    assert subscription.user == ada
    assert subscription.email == ""
    assert subscription.endpoint == ENDPOINT
    assert subscription.p256dh == browser["p256dh"]
    assert subscription.auth == browser["auth"]
    assert "no-cache" in response["Cache-Control"]


def test_user_agent_is_stored_truncated(push_settings, ada, browser):
    agent = "Mozilla/5.0 " + "x" * 400
    response = logged_in(ada).post(
        reverse(SUBSCRIPTIONS),
        json.dumps(subscription_json(browser)),
        content_type="application/json",
        HTTP_USER_AGENT=agent,
    )
    assert response.status_code == 201
    assert PushSubscription.objects.get().user_agent == agent[:300]


def test_same_endpoint_updates_the_subscription(push_settings, ada, bob, browser):
    first = post(logged_in(ada), subscription_json(browser))
    assert first.status_code == 201
    # The browser subscribed again (new keys), then another customer used it.
    renewed = new_browser()
    again = post(logged_in(ada), subscription_json(renewed))
    assert again.status_code == 200
    assert again.json() == first.json()
    subscription = PushSubscription.objects.get()
    assert subscription.p256dh == renewed["p256dh"]
    assert subscription.auth == renewed["auth"]

    moved = post(logged_in(bob), subscription_json(renewed))
    assert moved.status_code == 200
    assert moved.json() == first.json()
    assert PushSubscription.objects.get().user == bob


def test_guest_subscribes_with_a_signed_token(push_settings, browser):
    # No session and no CSRF token: the signed token is the authority.
    client = Client(enforce_csrf_checks=True)
    token = make_push_token(email="Guest@Example.com")
    response = post(client, subscription_json(browser, token=token))
    assert response.status_code == 201
    subscription = PushSubscription.objects.get()
    assert subscription.user is None
    assert subscription.email == "guest@example.com"


def test_token_of_an_account_subscribes_that_account(push_settings, ada, browser):
    token = make_push_token(user_id=ada.pk)
    response = post(Client(), subscription_json(browser, token=token))
    assert response.status_code == 201
    assert PushSubscription.objects.get().user == ada


@pytest.mark.parametrize("channel", ["", "email"], ids=["preferences", "unsubscribe"])
def test_links_from_messages_cannot_subscribe_a_browser(
    push_settings, ada, browser, channel
):
    """A forwarded email must not let a stranger receive the customer's updates."""
    token = make_token(user_id=ada.pk, channel=channel)
    response = post(Client(), subscription_json(browser, token=token))
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


def test_push_tokens_expire_after_a_day(push_settings, browser):
    with time_machine.travel("2026-01-01 12:00Z", tick=False):
        token = make_push_token(email="guest@example.com")
    with time_machine.travel("2026-01-02 12:01Z", tick=False):
        response = post(Client(), subscription_json(browser, token=token))
    assert response.status_code == 403
    assert response.json()["error"] == "This link has expired."


def test_token_wins_over_the_session(push_settings, ada, browser):
    token = make_push_token(email="guest@example.com")
    response = post(logged_in(ada), subscription_json(browser, token=token))
    assert response.status_code == 201
    assert PushSubscription.objects.get().email == "guest@example.com"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        make_push_token(email="guest@example.com") + "x",
        ["a", "list"],
        # Signed with another salt: a token from somewhere else in the shop.
        signing.dumps({"u": None, "e": "guest@example.com", "c": ""}, salt="other"),
    ],
    ids=["garbage", "tampered", "not a string", "forged"],
)
def test_bad_token_is_refused(push_settings, browser, token):
    response = post(Client(), subscription_json(browser, token=token))
    assert response.status_code == 403
    assert response.json()["error"] == "This link is not valid."
    assert not PushSubscription.objects.exists()


def test_token_of_a_deleted_user_is_refused(push_settings, ada, browser):
    token = make_push_token(user_id=ada.pk)
    ada.delete()
    response = post(Client(), subscription_json(browser, token=token))
    assert response.status_code == 403


def test_anonymous_without_token_is_refused(push_settings, browser, client):
    response = post(client, subscription_json(browser))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "Log in" in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_session_requests_need_the_csrf_token(push_settings, ada, browser):
    client, secret = strict_logged_in(ada)
    refused = post(client, subscription_json(browser))
    assert refused.status_code == 403
    assert "X-CSRFToken" in refused.json()["error"]
    assert not PushSubscription.objects.exists()

    accepted = post(client, subscription_json(browser), X_CSRFToken=secret)
    assert accepted.status_code == 201


@pytest.fixture
def shop_middleware(settings):
    """The middleware of a typical shop, CSRF and (Django 5.1+) login required."""
    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    if django.VERSION >= (5, 1):
        middleware.append("django.contrib.auth.middleware.LoginRequiredMiddleware")
    settings.MIDDLEWARE = middleware


def test_with_csrf_and_login_required_middleware(
    push_settings, shop_middleware, ada, browser
):
    guest = Client(enforce_csrf_checks=True)
    assert guest.get(reverse("order_updates:push_key")).status_code == 200
    assert guest.get(reverse("order_updates:push_service_worker")).status_code == 200
    token = make_push_token(email="guest@example.com")
    assert post(guest, subscription_json(browser, token=token)).status_code == 201
    body = {"endpoint": ENDPOINT, "token": token}
    assert post(guest, body, name=DELETE).status_code == 204

    client, secret = strict_logged_in(ada)
    assert post(client, subscription_json(browser)).status_code == 403
    response = post(client, subscription_json(browser), X_CSRFToken=secret)
    assert response.status_code == 201


def test_wrong_methods(push_settings, client):
    assert client.get(reverse(SUBSCRIPTIONS)).status_code == 405
    assert client.get(reverse(DELETE)).status_code == 405


def test_old_subscriptions_beyond_the_limit_are_dropped(
    push_settings, ada, browser, monkeypatch
):
    monkeypatch.setattr(push, "MAX_SUBSCRIPTIONS_PER_CUSTOMER", 3)
    client = logged_in(ada)
    for n in range(4):
        response = post(client, subscription_json(browser, endpoint=f"{ENDPOINT}{n}"))
        assert response.status_code == 201
    endpoints = set(
        PushSubscription.objects.filter(user=ada).values_list("endpoint", flat=True)
    )
    assert endpoints == {f"{ENDPOINT}1", f"{ENDPOINT}2", f"{ENDPOINT}3"}


# Validation -------------------------------------------------------------------------


def _p256_point_off_the_curve(browser):
    raw = bytearray(base64.urlsafe_b64decode(browser["p256dh"] + "="))
    raw[-1] ^= 1
    return b64url(bytes(raw))


def _compressed_point(browser):
    public = browser["private_key"].public_key()
    return b64url(public.public_bytes(Encoding.X962, PublicFormat.CompressedPoint))


INVALID = {
    "body not JSON": ("{not json", ""),
    "body a list": ([], ""),
    "body a string": ('"subscribe me"', ""),
    "body a number": ("1e999", ""),
    "body NaN": ("NaN", ""),
    "body null": ("null", ""),
    "body not UTF-8": (b'{"endpoint": "\xff\xfe"}', ""),
    # Deeper than Python's JSON parser goes (RecursionError), yet small.
    "body nested too deeply": ("[" * 8000 + "]" * 8000, ""),
    "body an object nested too deeply": ('{"a":' * 2500 + "1" + "}" * 2500, ""),
    "endpoint with NUL": (
        lambda b: subscription_json(b, endpoint=ENDPOINT + "\x00"),
        "endpoint",
    ),
    "endpoint with a lone surrogate": (
        lambda b: subscription_json(b, endpoint=ENDPOINT + "\ud800"),
        "endpoint",
    ),
    "endpoint not ASCII": (
        lambda b: subscription_json(b, endpoint=ENDPOINT + "é"),
        "endpoint",
    ),
    "keys with NUL": (
        lambda b: {"endpoint": ENDPOINT, "keys": {"p256dh": "\x00", "auth": "a"}},
        "keys.p256dh",
    ),
    "no endpoint": (lambda b: {"keys": subscription_json(b)["keys"]}, "endpoint"),
    "endpoint a number": (lambda b: subscription_json(b, endpoint=7), "endpoint"),
    "endpoint http": (
        lambda b: subscription_json(b, endpoint=ENDPOINT.replace("https", "http")),
        "endpoint",
    ),
    "endpoint not a URL": (
        lambda b: subscription_json(b, endpoint="https://"),
        "endpoint",
    ),
    "endpoint too long": (
        lambda b: subscription_json(
            b, endpoint="https://push.example.com/" + "a" * 976
        ),
        "endpoint",
    ),
    "endpoint an address": (
        lambda b: subscription_json(b, endpoint="https://169.254.169.254/latest"),
        "endpoint",
    ),
    "endpoint localhost": (
        lambda b: subscription_json(b, endpoint="https://localhost/push"),
        "endpoint",
    ),
    # Public names that resolve into a private network, and look-alikes.
    "endpoint internal name": (
        lambda b: subscription_json(b, endpoint="https://db.internal.corp/x"),
        "endpoint",
    ),
    "endpoint cloud metadata": (
        lambda b: subscription_json(
            b, endpoint="https://metadata.google.internal/computeMetadata/v1/"
        ),
        "endpoint",
    ),
    "endpoint look-alike": (
        lambda b: subscription_json(b, endpoint="https://evilfcm.googleapis.com.x.io/"),
        "endpoint",
    ),
    "no keys": (lambda b: {"endpoint": ENDPOINT}, "keys.p256dh"),
    "keys a list": (lambda b: {"endpoint": ENDPOINT, "keys": []}, "keys.p256dh"),
    "no p256dh": (
        lambda b: {"endpoint": ENDPOINT, "keys": {"auth": b["auth"]}},
        "keys.p256dh",
    ),
    "p256dh not base64url": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": "a+b/c", "auth": b["auth"]},
        },
        "keys.p256dh",
    ),
    "p256dh bad padding": (
        lambda b: {"endpoint": ENDPOINT, "keys": {"p256dh": "a", "auth": b["auth"]}},
        "keys.p256dh",
    ),
    "p256dh too short": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": b["p256dh"][:-4], "auth": b["auth"]},
        },
        "keys.p256dh",
    ),
    "p256dh compressed": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": _compressed_point(b), "auth": b["auth"]},
        },
        "keys.p256dh",
    ),
    "p256dh not 0x04": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": b64url(b"\x05" + os.urandom(64)), "auth": b["auth"]},
        },
        "keys.p256dh",
    ),
    "p256dh off the curve": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": _p256_point_off_the_curve(b), "auth": b["auth"]},
        },
        "keys.p256dh",
    ),
    "no auth": (
        lambda b: {"endpoint": ENDPOINT, "keys": {"p256dh": b["p256dh"]}},
        "keys.auth",
    ),
    "auth not a string": (
        lambda b: {"endpoint": ENDPOINT, "keys": {"p256dh": b["p256dh"], "auth": 16}},
        "keys.auth",
    ),
    "auth 15 bytes": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": b["p256dh"], "auth": b64url(os.urandom(15))},
        },
        "keys.auth",
    ),
    "auth 32 bytes": (
        lambda b: {
            "endpoint": ENDPOINT,
            "keys": {"p256dh": b["p256dh"], "auth": b64url(os.urandom(32))},
        },
        "keys.auth",
    ),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_subscriptions_are_refused(push_settings, ada, browser, case):
    body, field = INVALID[case]
    if callable(body):
        body = body(browser)
    response = post(logged_in(ada), body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()
    assert error["field"] == field
    assert (field or "JSON") in error["error"]
    assert not PushSubscription.objects.exists()


def test_a_longest_endpoint_and_padded_keys_are_accepted(push_settings, ada, browser):
    endpoint = "https://push.example.com/" + "a" * 975
    assert len(endpoint) == 1000
    body = subscription_json(browser, endpoint=endpoint)
    body["keys"]["auth"] += "=="  # base64url with padding is still base64url
    assert post(logged_in(ada), body).status_code == 201
    assert PushSubscription.objects.get().auth == browser["auth"]


def test_anonymous_gets_403_before_validation(push_settings, client):
    response = post(client, {"endpoint": "http://nope"})
    assert response.status_code == 403


@pytest.mark.parametrize("name", [SUBSCRIPTIONS, DELETE])
def test_a_body_too_large_is_refused_unread(push_settings, ada, browser, name):
    body = json.dumps(subscription_json(browser, pad="x" * push_views.MAX_BODY_SIZE))
    response = post(logged_in(ada), body, name=name)
    assert response.status_code == 413
    assert response.json() == {
        "error": "The request body is too large: at most 16384 bytes.",
        "field": "",
    }
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=BoUnDaRy",
        "application/jsonx",
        "",
    ],
)
@pytest.mark.parametrize("name", [SUBSCRIPTIONS, DELETE])
def test_anything_but_json_is_refused(push_settings, ada, browser, content_type, name):
    _subscribe(ada, browser)
    response = logged_in(ada).post(
        reverse(name),
        json.dumps(subscription_json(new_browser())),
        content_type=content_type,
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["error"]
    assert PushSubscription.objects.get().p256dh == browser["p256dh"]  # untouched


@pytest.mark.parametrize(
    "endpoint", [ENDPOINT + "\x00", ENDPOINT + "\ud800", ENDPOINT + "é"]
)
def test_removing_an_endpoint_that_cannot_exist_removes_nothing(
    push_settings, ada, browser, endpoint
):
    _subscribe(ada, browser)
    response = post(logged_in(ada), {"endpoint": endpoint}, name=DELETE)
    assert response.status_code == 204
    assert PushSubscription.objects.count() == 1
    assert push.remove_subscription(endpoint, user=ada) is False


def test_user_agent_loses_nul_characters(push_settings, ada, browser):
    response = logged_in(ada).post(
        reverse(SUBSCRIPTIONS),
        json.dumps(subscription_json(browser)),
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0\x00 (X11)",
    )
    assert response.status_code == 201
    assert PushSubscription.objects.get().user_agent == "Mozilla/5.0 (X11)"


@pytest.mark.parametrize(
    "token", [{"a": 1}, 5, [1], "a\x00b", "\ud800", "x" * 2000, True]
)
def test_a_token_that_is_no_token_is_refused(push_settings, browser, token):
    response = post(Client(), subscription_json(browser, token=token))
    assert response.status_code == 403
    assert response.json() == {"error": "This link is not valid."}


# Unsubscribing ----------------------------------------------------------------------


def _subscribe(owner, browser, endpoint=ENDPOINT):
    info = push.parse_subscription(subscription_json(browser, endpoint=endpoint))
    if isinstance(owner, str):
        return push.save_subscription(info, email=owner)[0]
    return push.save_subscription(info, user=owner)[0]


@pytest.mark.parametrize("how", ["DELETE", "POST .../delete/"])
def test_customer_removes_their_subscription(push_settings, ada, browser, how):
    _subscribe(ada, browser)
    client = logged_in(ada)
    body = json.dumps({"endpoint": ENDPOINT})
    if how == "DELETE":
        response = client.delete(
            reverse(SUBSCRIPTIONS), body, content_type="application/json"
        )
    else:
        response = client.post(reverse(DELETE), body, content_type="application/json")
    assert response.status_code == 204
    assert response.content == b""
    assert not PushSubscription.objects.exists()


def test_nobody_removes_someone_elses_subscription(push_settings, ada, bob, browser):
    theirs = _subscribe(bob, browser)
    guests = _subscribe("guest@example.com", browser, endpoint=ENDPOINT + "g")
    client = logged_in(ada)
    for endpoint in (theirs.endpoint, guests.endpoint):
        response = post(client, {"endpoint": endpoint}, name=DELETE)
        # The same answer as for one's own: it must not reveal whose it is.
        assert response.status_code == 204
    other_guest = make_push_token(email="other@example.com")
    response = post(
        Client(), {"endpoint": guests.endpoint, "token": other_guest}, name=DELETE
    )
    assert response.status_code == 204
    assert PushSubscription.objects.count() == 2


def test_guest_removes_their_subscription_with_the_token(push_settings, browser):
    _subscribe("guest@example.com", browser)
    token = make_push_token(email="guest@example.com")
    client = Client(enforce_csrf_checks=True)
    response = client.delete(
        reverse(SUBSCRIPTIONS),
        json.dumps({"endpoint": ENDPOINT, "token": token}),
        content_type="application/json",
    )
    assert response.status_code == 204
    assert not PushSubscription.objects.exists()


def test_removing_needs_an_owner_an_endpoint_and_csrf(push_settings, ada, browser):
    _subscribe(ada, browser)
    assert post(Client(), {"endpoint": ENDPOINT}, name=DELETE).status_code == 403
    missing = post(logged_in(ada), {}, name=DELETE)
    assert missing.status_code == 400
    assert missing.json()["field"] == "endpoint"
    assert post(logged_in(ada), "[]", name=DELETE).status_code == 400
    client, secret = strict_logged_in(ada)
    assert post(client, {"endpoint": ENDPOINT}, name=DELETE).status_code == 403
    assert PushSubscription.objects.exists()
    response = post(client, {"endpoint": ENDPOINT}, name=DELETE, X_CSRFToken=secret)
    assert response.status_code == 204
    assert not PushSubscription.objects.exists()


# From subscription to notification --------------------------------------------------


def test_subscribed_browser_gets_order_updates_until_it_is_gone(
    push_settings, ada, browser, make_order, http
):
    response = post(logged_in(ada), subscription_json(browser))
    assert response.status_code == 201
    subscription = PushSubscription.objects.get(pk=response.json()["id"])

    order = make_order(user=ada, email="ada@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk, channel="push")
    assert row.recipient == str(subscription.pk)

    http.add("POST", ENDPOINT, status=201, headers={"Location": ENDPOINT + "/m/1"})
    assert delivery.deliver(row.pk) == delivery.SENT
    request = http.last_request
    assert Vapid.verify(request.headers["Authorization"])
    payload = json.loads(
        http_ece.decrypt(
            request.body,
            private_key=browser["private_key"],
            auth_secret=browser["auth_bytes"],
            version="aes128gcm",
        )
    )
    assert set(payload) == {"title", "body", "url", "tag"}
    assert payload["title"] and payload["body"]
    # (url is "": the test shops have no order page; the worker then opens "/".)
    assert payload["tag"] == "order-%s" % get_adapter().get_number(order)

    # The customer blocked notifications: the push service says the endpoint is gone.
    services.set_status(order, "confirmed")
    row = Notification.objects.get(
        order_id=order.pk, channel="push", type="order_confirmed"
    )
    http.add("POST", ENDPOINT, status=410)
    assert delivery.deliver(row.pk) == delivery.FAILED
    assert Notification.objects.get(pk=row.pk).state == NotificationState.FAILED
    assert not PushSubscription.objects.exists()


# The snippet ------------------------------------------------------------------------


class _DataAttributes(html.parser.HTMLParser):
    """The snippet's root element's attributes, and the rest of its markup."""

    def __init__(self):
        super().__init__()
        self.root = None
        self.elements = []
        self.text = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if "data-order-updates-push" in attrs and self.root is None:
            self.root = attrs

    def handle_data(self, data):
        if self.elements and data.strip():
            self.text[self.elements[-1][0]] = data.strip()


def render_snippet(**context):
    request = RequestFactory().get("/shop/")
    markup = render_to_string("order_updates/push_subscribe.html", context, request)
    parser = _DataAttributes()
    parser.feed(markup)
    return markup, parser


def dataset(root):
    """The root's ``data-*`` attributes as the script sees them (``el.dataset``)."""

    def camel(name):
        head, *rest = name[len("data-") :].split("-")
        return head + "".join(part.capitalize() for part in rest)

    return {
        camel(name): value or ""
        for name, value in root.items()
        if name.startswith("data-") and name != "data-order-updates-push"
    }


def test_snippet_is_hidden_accessible_and_wired(db):
    markup, parsed = render_snippet()
    root = parsed.root
    assert "hidden" in root
    assert root["data-key-url"] == "/order-updates/push/key/"
    assert root["data-subscriptions-url"] == "/order-updates/push/subscriptions/"
    assert root["data-delete-url"] == "/order-updates/push/subscriptions/delete/"
    assert root["data-service-worker-url"] == "/order-updates/push/service-worker.js"
    assert "data-scope" not in root and "data-token" not in root
    assert len(root["data-csrf-token"]) == 64
    tags = dict(parsed.elements)
    assert tags["button"]["type"] == "button"
    assert parsed.text["button"] == "Get updates in this browser"
    assert tags["p"]["role"] == "status"
    assert tags["p"]["aria-live"] == "polite"
    assert tags["script"] == {
        "src": "/static/order_updates/push-subscribe.js",
        "defer": None,
    }
    # No inline script, so a strict Content-Security-Policy is fine.
    assert markup.count("<script") == 1


def test_snippet_for_guests_and_custom_workers(db):
    token = make_push_token(email="guest@example.com")
    _markup, parsed = render_snippet(
        push_token=token,
        push_scope="/",
        push_service_worker_url="/sw.js",
    )
    assert parsed.root["data-token"] == token
    assert parsed.root["data-scope"] == "/"
    assert parsed.root["data-service-worker-url"] == "/sw.js"


# The scripts, run by Node -----------------------------------------------------------


def run_node(config):
    result = subprocess.run(
        [NODE, str(HARNESS)],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def button(push_settings, live_server, browser):
    """Run push-subscribe.js against the live server; returns its report."""

    def run(clicks=0, **config):
        _markup, parsed = render_snippet(**config.pop("context", {}))
        data = dataset(parsed.root)
        data.update(config.pop("dataset", {}))
        return run_node(
            {
                "scenario": "button",
                "script": str(STATIC / "push-subscribe.js"),
                "base": live_server.url,
                "dataset": data,
                "supported": True,
                "permissionAnswer": "granted",
                "endpoint": ENDPOINT,
                "p256dh": browser["p256dh"],
                "auth": browser["auth"],
                "clicks": clicks,
                **config,
            }
        )

    return run


@needs_node
def test_button_guest_subscribes_and_unsubscribes(button, vapid, live_server):
    token = make_push_token(email="guest@example.com")
    report = button(clicks=1, context={"push_token": token})

    # Loading the page: key fetched, button shown, no permission prompt.
    assert report["load"] == {
        "hidden": False,
        "button": "Get updates in this browser",
        "state": "unsubscribed",
        "permissionRequests": 0,
        "requests": 1,
        "registered": 0,
    }
    # The click: permission, the service worker at its own scope, the subscription.
    assert report["permissionRequests"] == 1
    assert report["registered"] == [
        {"url": "/order-updates/push/service-worker.js", "scope": None}
    ]
    assert report["subscribeOptions"] == {
        "userVisibleOnly": True,
        "applicationServerKey": vapid_public_key(vapid),
    }
    key_request, subscribe_request = report["requests"]
    assert key_request["url"] == "/order-updates/push/key/"
    assert subscribe_request["url"] == "/order-updates/push/subscriptions/"
    assert subscribe_request["body"]["token"] == token
    assert subscribe_request["body"]["endpoint"] == ENDPOINT
    assert subscribe_request["status"] == 201
    assert report["steps"] == [
        {
            "button": "Stop updates in this browser",
            "status": "Done: this browser will show updates about your orders.",
            "state": "subscribed",
            "busy": False,
            "browserSubscribed": True,
        }
    ]
    subscription = PushSubscription.objects.get()
    assert subscription.email == "guest@example.com"
    assert subscription.pk == subscribe_request["response"]["id"]


@needs_node
def test_button_toggles_back(button, browser, vapid):
    token = make_push_token(email="guest@example.com")
    # The browser is already subscribed with the shop's key: the button says so.
    push.save_subscription(
        push.parse_subscription(subscription_json(browser)), email="guest@example.com"
    )
    report = button(
        clicks=1,
        context={"push_token": token},
        existingSubscriptionKey=vapid_public_key(vapid),
    )
    assert report["load"]["button"] == "Stop updates in this browser"
    assert report["load"]["state"] == "subscribed"
    [_key, removal] = report["requests"]
    assert removal["url"] == "/order-updates/push/subscriptions/delete/"
    assert removal["body"] == {"endpoint": ENDPOINT, "token": token}
    assert removal["status"] == 204
    assert report["browserUnsubscribed"] is True
    assert report["permissionRequests"] == 0
    assert report["steps"][0]["button"] == "Get updates in this browser"
    assert report["steps"][0]["status"] == (
        "This browser will no longer show updates about your orders."
    )
    assert not PushSubscription.objects.exists()


@needs_node
def test_button_logged_in_sends_the_csrf_cookie_token(button, ada, live_server):
    client = Client()
    client.force_login(ada)
    secret = get_random_string(32)
    session = client.cookies["sessionid"].value
    report = button(
        clicks=2,
        # No token in the page (a cached page, say): the script reads the cookie.
        dataset={"csrfToken": ""},
        cookieHeader=f"sessionid={session}; csrftoken={secret}",
        documentCookie=f"theme=dark; csrftoken={secret}",
    )
    _key, subscribe, unsubscribe = report["requests"]
    assert subscribe["headers"]["X-CSRFToken"] == secret
    assert "token" not in subscribe["body"]
    assert subscribe["status"] == 201
    assert unsubscribe["status"] == 204
    assert [step["state"] for step in report["steps"]] == [
        "subscribed",
        "unsubscribed",
    ]
    assert not PushSubscription.objects.exists()


@needs_node
def test_button_when_the_shop_refuses(button, browser):
    # Anonymous, no token: the shop answers 403; the browser unsubscribes again.
    report = button(clicks=1)
    assert report["requests"][1]["status"] == 403
    assert report["browserUnsubscribed"] is True
    assert report["steps"][0]["state"] == "unsubscribed"
    assert report["steps"][0]["status"] == (
        "Sorry, that did not work. Please try again later."
    )


@needs_node
def test_button_when_permission_is_denied(button):
    report = button(clicks=1, permissionAnswer="denied")
    assert report["permissionRequests"] == 1
    assert report["registered"] == []
    assert len(report["requests"]) == 1  # the key only
    assert report["steps"][0]["status"].startswith("Notifications are blocked")
    assert report["steps"][0]["button"] == "Get updates in this browser"


@needs_node
def test_button_stays_hidden_without_push_api(button):
    report = button(supported=False)
    assert report["load"]["hidden"] is True
    assert report["requests"] == []


@needs_node
def test_button_stays_hidden_without_vapid_key(button, push_settings, push_options):
    push_settings.ORDER_UPDATES = {
        **push_settings.ORDER_UPDATES,
        "CHANNELS": push_channels(**{**push_options, "vapid_public_key": ""}),
    }
    report = button(clicks=0)
    assert report["load"]["hidden"] is True
    assert report["requests"][0]["status"] == 404


@needs_node
def test_service_worker_shows_and_opens_updates():
    origin = "https://shop.example.com"
    report = run_node(
        {
            "scenario": "worker",
            "script": str(STATIC / "push-sw.js"),
            "origin": origin,
            "openWindows": [origin + "/orders/PS-1/"],
            "pushes": [
                json.dumps(
                    {
                        "title": "Your order is on its way",
                        "body": "Order PS-1 has shipped.",
                        "url": origin + "/orders/PS-1/",
                        "tag": "order-PS-1",
                    }
                ),
                "not JSON",
                None,
                json.dumps({"title": "Hi", "url": "javascript:alert(1)"}),
            ],
            "clicks": [
                origin + "/orders/PS-1/",
                origin + "/orders/PS-2/",
                "javascript:alert(1)",
            ],
        }
    )
    assert report["listeners"] == ["notificationclick", "push"]
    shipped, text_only, empty, sneaky = report["notifications"]
    assert shipped == {
        "title": "Your order is on its way",
        "options": {
            "body": "Order PS-1 has shipped.",
            "data": {"url": origin + "/orders/PS-1/"},
            "tag": "order-PS-1",
            "renotify": True,
        },
    }
    # Every push shows something: browsers punish a push without a notification.
    assert text_only["title"] == "shop.example.com"
    assert text_only["options"]["body"] == "not JSON"
    assert empty["title"] == "shop.example.com"
    assert "tag" not in empty["options"]
    assert sneaky["options"]["data"]["url"] == origin + "/"
    # A click focuses the order's open tab, or opens it; never a javascript: URL.
    assert report["closed"] == 3
    assert report["focused"] == [origin + "/orders/PS-1/"]
    assert report["opened"] == [origin + "/orders/PS-2/", origin + "/"]
