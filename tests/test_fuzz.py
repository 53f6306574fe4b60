"""Generated requests to every public endpoint: none may answer 5xx.

Hypothesis builds 1,000 requests per endpoint, derandomized so every run (and
CI) sends the same ones: bodies of any bytes and any JSON (NaN, lone surrogates,
NUL characters, deep nesting), shaped like the real thing with odd values where
order_updates reads them, and with real tokens and message ids often enough
to reach the code behind the first check. Each goes through Django's test
client to the real view.
"""

import base64
import json
import string
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from order_updates.models import (
    DeliveryFeedback,
    NotificationPreference,
    PushSubscription,
)
from order_updates.notifications.links import make_push_token, make_token
from tests.test_feedback import sent_email, setup  # noqa: F401
from tests.test_push_subscriptions import (  # noqa: F401
    DELETE,
    ENDPOINT,
    SUBSCRIPTIONS,
    new_browser,
    push_options,
    push_settings,
    vapid,
)

FUZZ = hypothesis_settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    # The fixtures (database, settings) are set up once per test, on purpose:
    # every example must leave the site answering, whatever the last one did.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Text with what databases and parsers choke on: NUL, lone surrogates, controls.
odd_characters = st.one_of(
    st.characters(),
    st.integers(min_value=0xD800, max_value=0xDFFF).map(chr),  # lone surrogates
    st.sampled_from('\x00\r\n\t%:/\\"é💥'),
)
odd_text = st.one_of(
    st.text(max_size=30),
    st.lists(odd_characters, max_size=30).map("".join),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "\udfff", " "]),
)
odd_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**63, 2**64, 10**30, 1e300]),
)
json_scalars = st.one_of(st.none(), st.booleans(), odd_numbers, odd_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(odd_text, children, max_size=4),
    ),
    max_leaves=6,
)


def json_text(value):
    """JSON as a sloppy sender writes it: NaN and Infinity included."""
    return json.dumps(value, allow_nan=True)


deep = st.integers(min_value=1, max_value=6000).map(
    lambda depth: "[" * depth + "]" * depth
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    deep,
    st.sampled_from(["", "null", "{", '{"a":', "NaN", "1e999", "\ufeff{}"]),
)


def check(response):
    assert response.status_code < 500, response.content[:500]
    return response


# Push subscriptions ------------------------------------------------------------------


def push_bodies(token):
    """Subscriptions (and removals) with odd parts, and anything else."""
    browser = new_browser()
    good_keys = {"p256dh": browser["p256dh"], "auth": browser["auth"]}
    subscription = st.fixed_dictionaries(
        {
            "endpoint": st.one_of(
                st.just(ENDPOINT),
                odd_text.map(lambda text: ENDPOINT + text),
                json_values,
            ),
            "keys": st.one_of(
                st.just(good_keys),
                st.dictionaries(
                    st.sampled_from(["p256dh", "auth"]), json_values, max_size=2
                ),
                json_values,
            ),
            "token": st.one_of(
                st.just(token), odd_text.map(lambda text: token + text), json_values
            ),
        },
        optional={"expirationTime": json_values, "extra": json_values},
    ).map(json_text)
    return st.one_of(subscription, json_values.map(json_text), raw_bodies)


content_types = st.one_of(
    st.just("application/json"),
    st.sampled_from(
        [
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
        ]
    ),
)


@pytest.fixture
def push_token(push_settings):  # noqa: F811
    return make_push_token(email="guest@example.com")


@pytest.mark.parametrize("view", [SUBSCRIPTIONS, DELETE])
def test_push_subscription_endpoints(push_token, view):
    client = Client()
    url = reverse(view)

    @FUZZ
    @given(body=push_bodies(push_token), content_type=content_types)
    def post(body, content_type):
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        response = check(client.generic("POST", url, data, content_type=content_type))
        if response.status_code >= 400:
            assert "error" in response.json()

    post()
    if view == SUBSCRIPTIONS:  # enough requests got through every check
        assert PushSubscription.objects.filter(email="guest@example.com").exists()


# Delivery feedback: anymail's Postmark tracking webhook -------------------------


POSTMARK_RECORD_TYPES = [
    "Bounce",
    "Delivery",
    "Open",
    "Click",
    "SpamComplaint",
    "SubscriptionChange",
]
POSTMARK_BOUNCE_TYPES = [
    "HardBounce",
    "SoftBounce",
    "Transient",
    "SpamNotification",
    "BadEmailAddress",
    "ManuallyDeactivated",
    "Blocked",
    "SMTPApiError",
    "Unknown",
]
# What Postmark's parser in anymail itself can read: strings for the fields it
# looks up in tables, ISO 8601 times; order_updates gets every other value as
# sent. (Other values fail in anymail, before order_updates is called.)
iso_times = st.datetimes(
    timezones=st.one_of(st.none(), st.timezones()),
    allow_imaginary=True,
).map(lambda moment: moment.isoformat())


def postmark_events(notification):
    metadata = st.one_of(
        st.just({"order_updates_notification": str(notification.pk)}),
        st.dictionaries(
            st.sampled_from(["order_updates_notification", "other"]),
            json_values,
            max_size=2,
        ),
    )
    return st.fixed_dictionaries(
        {
            "RecordType": st.one_of(st.sampled_from(POSTMARK_RECORD_TYPES), odd_text),
            "MessageID": st.one_of(
                st.just(notification.provider_message_id), json_scalars
            ),
            "Metadata": metadata,
        },
        optional={
            "Type": st.one_of(st.sampled_from(POSTMARK_BOUNCE_TYPES), odd_text),
            "ID": json_scalars,
            "Description": json_values,
            "Details": json_scalars,
            "Email": json_scalars,
            "Recipient": json_scalars,
            "Tag": json_scalars,
            "DeliveredAt": iso_times,
            "BouncedAt": iso_times,
            "SuppressSending": json_scalars,
            "SuppressionReason": st.one_of(st.just("HardBounce"), odd_text),
            "Subject": json_scalars,
            "Extra": json_values,
        },
    )


def test_postmark_tracking_webhook(make_order, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "anymail:s3cret"}
    notification = sent_email(make_order())
    client = Client()
    url = reverse("anymail:postmark_tracking_webhook")
    auth = "Basic %s" % base64.b64encode(b"anymail:s3cret").decode()

    @FUZZ
    @given(event=postmark_events(notification))
    def post(event):
        body = json_text(event).encode("utf-8", "surrogatepass")
        check(
            client.post(
                url, body, content_type="application/json", HTTP_AUTHORIZATION=auth
            )
        )

    post()
    # The generated reports reached order_updates and were recorded.
    assert DeliveryFeedback.objects.filter(notification=notification).count() > 50


# Unsubscribe and preferences pages -------------------------------------------------


def tokens(valid):
    return st.one_of(
        st.just(valid),
        odd_text.map(lambda text: valid + text),
        odd_text,
        st.text(alphabet=string.ascii_letters + string.digits + ":-_", max_size=300),
        st.integers(min_value=1, max_value=5000).map(lambda n: "x" * n),
    )


form_values = st.lists(odd_text, max_size=3)
form_data = st.dictionaries(
    st.sampled_from(
        ["order", "shipping", "timezone", "sms_consent", "List-Unsubscribe", "other"]
    ),
    st.one_of(form_values, st.just(["email", "sms"]), st.just(["One-Click"])),
    max_size=5,
)


def encodable(text):
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@pytest.mark.parametrize("page", ["unsubscribe", "preferences"])
def test_unsubscribe_and_preferences_pages(db, settings, page):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "PREFERENCES_LINK_MAX_AGE": None,
    }
    valid = make_token(email="guest@example.com", channel="email")
    client = Client()

    @FUZZ
    @given(
        token=tokens(valid),
        method=st.sampled_from(["GET", "POST", "POST raw"]),
        data=form_data,
        raw=st.binary(max_size=100),
    )
    def request(token, method, data, raw):
        path = "/order-updates/%s/%s/" % (
            page,
            quote(token.encode("utf-8", "surrogatepass"), safe=""),
        )
        if method == "GET":
            response = client.get(path)
        elif method == "POST":
            clean = {
                encodable(key): [encodable(value) for value in values]
                for key, values in data.items()
            }
            response = client.post(path, clean)
        else:
            response = client.post(
                path, raw, content_type="application/x-www-form-urlencoded"
            )
        check(response)

    request()
    # Enough requests got past the token to change the customer's choices.
    assert NotificationPreference.objects.filter(email="guest@example.com").exists()
