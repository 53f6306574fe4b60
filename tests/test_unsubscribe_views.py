"""The unsubscribe and preferences pages behind signed links."""

import datetime
import re

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import translation

from order_updates.models import NotificationPreference
from order_updates.notifications import forms as zone_forms
from order_updates.notifications import preferences
from order_updates.notifications.channels import get_channel
from order_updates.notifications.links import make_token

ONE_CLICK = "List-Unsubscribe=One-Click"


CHANNELS = {
    "email": "order_updates.notifications.channels.email.EmailChannel",
    "sms": "order_updates.notifications.channels.sms.SMSChannel",
    "push": "order_updates.notifications.channels.push.WebPushChannel",
}


@pytest.fixture(autouse=True)
def channels(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": CHANNELS,
        "PREFERENCES_LINK_MAX_AGE": None,
    }


@pytest.fixture
def strict_client():
    """A client that enforces CSRF like a real browser session would."""
    return Client(enforce_csrf_checks=True)


def unsubscribe_url(**kwargs):
    kwargs.setdefault("channel", "email")
    return reverse("order_updates:unsubscribe", args=[make_token(**kwargs)])


def preferences_url(**kwargs):
    return reverse("order_updates:preferences", args=[make_token(**kwargs)])


def stored(email="guest@example.com"):
    return NotificationPreference.objects.filter(email=email).first()


# Unsubscribe -----------------------------------------------------------------------


def test_get_asks_and_never_unsubscribes(client, db):
    url = unsubscribe_url(email="Guest@example.com")
    response = client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Unsubscribe from email updates about your orders?" in content
    assert 'method="post"' in content
    assert "csrfmiddlewaretoken" in content
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-cache" in response["Cache-Control"]
    assert client.head(url).status_code == 200
    assert stored() is None


def test_confirming_unsubscribes_and_links_to_preferences(strict_client, db):
    url = unsubscribe_url(email="guest@example.com")
    page = strict_client.get(url)
    token = page.context["csrf_token"]
    response = strict_client.post(url, {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 200
    content = response.content.decode()
    assert "You will no longer get email updates" in content
    assert "/order-updates/preferences/" in content
    assert not preferences.wants(stored(), "order", get_channel("email"))
    assert preferences.wants(stored(), "order", get_channel("push"))


def test_confirmation_post_needs_csrf(strict_client, db):
    response = strict_client.post(unsubscribe_url(email="guest@example.com"))
    assert response.status_code == 403
    assert stored() is None


@pytest.mark.parametrize("multipart", [False, True])
def test_one_click_post_without_csrf_or_cookies(strict_client, db, multipart):
    url = unsubscribe_url(email="guest@example.com")
    if multipart:
        response = strict_client.post(url, {"List-Unsubscribe": "One-Click"})
    else:
        response = strict_client.post(
            url, ONE_CLICK, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 200
    assert not strict_client.cookies  # nothing needed, nothing required
    assert not preferences.wants(stored(), "shipping", get_channel("email"))


def test_one_click_for_an_account_holder(strict_client, django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    url = unsubscribe_url(user_id=user.pk, channel="sms")
    response = strict_client.post(
        url, ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    preference = NotificationPreference.objects.get(user=user)
    assert preference.email == ""
    assert "sms" not in preference.channels["order"]
    assert "email" in preference.channels["order"]


def test_other_post_bodies_are_not_one_click(strict_client, db):
    url = unsubscribe_url(email="guest@example.com")
    response = strict_client.post(
        url,
        "List-Unsubscribe=Yes",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    assert stored() is None


def tampered(token):
    payload, rest = token.split(":", 1)
    return payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + ":" + rest


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_token_is_refused(client, db, method):
    token = make_token(email="guest@example.com", channel="email")
    url = reverse("order_updates:unsubscribe", args=[tampered(token)])
    data = ONE_CLICK if method == "post" else None
    kwargs = {"content_type": "application/x-www-form-urlencoded"} if data else {}
    response = getattr(client, method)(url, data, **kwargs)
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    assert stored() is None


def test_token_signed_for_something_else_is_refused(client, db):
    other = signing.dumps({"u": None, "e": "guest@example.com", "c": "email"})
    response = client.get(reverse("order_updates:unsubscribe", args=[other]))
    assert response.status_code == 400
    assert stored() is None


def test_link_without_channel_cannot_unsubscribe(client, db):
    url = reverse(
        "order_updates:unsubscribe", args=[make_token(email="guest@example.com")]
    )
    response = client.post(
        url, ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert stored() is None


def test_link_of_a_deleted_user_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("gone", "gone@example.com", "pw")
    url = unsubscribe_url(user_id=user.pk)
    user.delete()
    assert client.get(url).status_code == 400


def test_expired_link_is_refused(client, db, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "PREFERENCES_LINK_MAX_AGE": 7 * 24 * 3600,
    }
    start = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False):
        url = unsubscribe_url(email="guest@example.com")
        prefs = preferences_url(email="guest@example.com")
    with time_machine.travel(start + datetime.timedelta(days=6), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(start + datetime.timedelta(days=8), tick=False):
        response = client.post(
            url, ONE_CLICK, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400
        assert "This link has expired" in response.content.decode()
        assert client.get(prefs).status_code == 400
    assert stored() is None


# Preferences -----------------------------------------------------------------------


def test_preferences_page_shows_current_choices(client, db):
    preference = preferences.preference_for(email="guest@example.com")
    preferences.set_channels(preference, "shipping", ["push"])
    response = client.get(preferences_url(email="guest@example.com"))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["order"].initial == ["email", "push"]
    assert form["shipping"].initial == ["push"]
    assert form["sms_consent"].initial is False
    content = response.content.decode()
    assert "<legend>Order updates" in content
    assert "guest@example.com" in content
    assert 'name="timezone"' in content
    assert response["Referrer-Policy"] == "same-origin"


def test_preferences_save_and_redirect(client, db):
    url = preferences_url(email="guest@example.com", channel="email")
    response = client.post(
        url,
        {
            "order": ["email", "sms"],
            "shipping": ["sms"],
            "sms_consent": "on",
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url + "?saved=1"
    page = client.get(response["Location"])
    assert "Your preferences have been saved." in page.content.decode()
    preference = stored()
    assert preference.channels == {"order": ["email", "sms"], "shipping": ["sms"]}
    assert preference.sms_consent_at is not None
    assert preference.timezone == "Europe/Berlin"
    assert not preferences.wants(preference, "shipping", get_channel("email"))


def test_preferences_need_csrf(strict_client, db):
    response = strict_client.post(
        preferences_url(email="guest@example.com"), {"order": ["email"]}
    )
    assert response.status_code == 403
    assert stored() is None


def test_invalid_choices_rerender_with_errors_and_keep_input(client, db):
    response = client.post(
        preferences_url(email="guest@example.com"),
        {"order": ["email", "sms"], "shipping": ["pigeon"], "timezone": "Mars/Base"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"shipping", "timezone", "sms_consent"}
    content = response.content.decode()
    assert "Please correct the errors below." in content
    assert "To get updates by text message, please agree to receive them." in content
    # What the customer ticked is still ticked.
    assert form["order"].value() == ["email", "sms"]
    assert stored() is None


def zone_options(content):
    """(value, label) of each option of the page's time zone select."""
    select = re.search(r'<select name="timezone".*?</select>', content, re.S)[0]
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)


def assert_each_zone_once(options):
    labels = [label for _value, label in options]
    assert len(labels) == len(set(labels))
    # "Argentina – Buenos Aires" and the legacy "Buenos Aires": one city, twice.
    cities = [label.rsplit(" – ", 1)[-1] for label in labels]
    assert len(cities) == len(set(cities))


def test_time_zones_are_listed_once_by_their_current_names(client, db):
    content = client.get(preferences_url(email="guest@example.com")).content
    options = zone_options(content.decode())
    values = [value for value, _label in options]
    assert ("America/Argentina/Buenos_Aires", "Buenos Aires") in options
    assert ("Asia/Kolkata", "Kolkata") in options
    # Backward aliases of those zones.
    assert "America/Buenos_Aires" not in values
    assert "Asia/Calcutta" not in values
    assert "Europe/Nicosia" not in values
    assert_each_zone_once(options)


def test_time_zones_without_zone_tab_are_listed_once(client, db, monkeypatch):
    monkeypatch.setattr(zone_forms, "canonical_zones", lambda: None)
    zone_forms._zones_by_region.cache_clear()
    try:
        content = client.get(preferences_url(email="guest@example.com")).content
    finally:
        zone_forms._zones_by_region.cache_clear()
    options = zone_options(content.decode())
    assert ("America/Argentina/Buenos_Aires", "Buenos Aires") in options
    labels = [label for _value, label in options]
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize(
    ("language", "vienna", "kolkata"),
    [
        ("de", "Wien", "Kalkutta"),
        ("fr", "Vienne", "Calcutta"),
        ("en", "Vienna", "Kolkata"),
    ],
)
def test_time_zones_are_named_in_the_pages_language(
    client, db, language, vienna, kolkata
):
    url = preferences_url(email="guest@example.com")
    with translation.override(language):  # as LocaleMiddleware would
        content = client.get(url).content.decode()
    options = zone_options(content)
    assert ("Europe/Vienna", vienna) in options
    assert ("Asia/Kolkata", kolkata) in options
    assert_each_zone_once(options)
    if language == "de":  # sorted as a reader expects: accents aside
        europe = [label for value, label in options if value.startswith("Europe/")]
        assert europe.index("Zürich") > europe.index("Wien")


def test_a_saved_legacy_time_zone_is_kept(client, db):
    preference = preferences.preference_for(email="guest@example.com")
    preference.timezone = "America/Buenos_Aires"
    preference.save()
    url = preferences_url(email="guest@example.com")
    content = client.get(url).content.decode()
    assert re.search(
        r'<option value="America/Buenos_Aires" selected>America/Buenos Aires<', content
    )
    assert_each_zone_once(zone_options(content))
    response = client.post(url, {"timezone": "America/Buenos_Aires"})
    assert response.status_code == 302
    assert stored().timezone == "America/Buenos_Aires"


def test_preferences_without_sms_channel_hide_consent(client, db, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {"email": CHANNELS["email"]},
    }
    response = client.get(preferences_url(email="guest@example.com"))
    assert "sms_consent" not in response.context["form"].fields
    response = client.post(
        preferences_url(email="guest@example.com"), {"order": [], "shipping": []}
    )
    assert response.status_code == 302
    assert stored().channels == {"order": [], "shipping": []}
    assert stored().sms_consent_at is None


def test_preferences_for_an_account_holder(client, django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    url = preferences_url(user_id=user.pk)
    assert "ada@example.com" in client.get(url).content.decode()
    client.post(url, {"order": ["email"], "shipping": ["email"]})
    assert NotificationPreference.objects.get(user=user).channels == {
        "order": ["email"],
        "shipping": ["email"],
    }


def test_preferences_tampered_token(client, db):
    token = make_token(email="guest@example.com")
    url = reverse("order_updates:preferences", args=[tampered(token)])
    assert client.get(url).status_code == 400
    response = client.post(url, {"order": []})
    assert response.status_code == 400
    assert stored() is None


# Garbage ---------------------------------------------------------------------------


GARBAGE_TOKENS = [
    "garbage",
    "a:b:c",
    "x" * 100_000,
    "%00",
    "a%00b%00:c",
    "%FF%FE",
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded
    "..",
    "%2E%2E",
]


@pytest.mark.parametrize("page", ["unsubscribe", "preferences"])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("token", GARBAGE_TOKENS, ids=lambda token: token[:12])
def test_garbage_tokens_get_the_invalid_link_page(client, db, page, method, token):
    response = getattr(client, method)("/order-updates/%s/%s/" % (page, token))
    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    assert not NotificationPreference.objects.exists()


def test_tokens_with_a_slash_match_no_page(client, db):
    assert client.get("/order-updates/preferences/a%2Fb/").status_code == 404


def test_a_valid_token_made_too_long_is_refused(client, db):
    url = unsubscribe_url(email="guest@example.com") + "x" * 2000
    assert client.get(url).status_code == 404  # no longer ends with a slash
    token = make_token(email="guest@example.com", channel="email")
    url = reverse("order_updates:unsubscribe", args=[token + ":" + "x" * 2000])
    assert client.get(url).status_code == 400


def test_nul_characters_in_the_preferences_form(client, db):
    response = client.post(
        preferences_url(email="guest@example.com"),
        {"order": ["email\x00"], "shipping": ["\x00"], "timezone": "UTC\x00"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"order", "shipping", "timezone"}
    assert stored() is None


def test_invalid_utf8_in_the_preferences_form(client, db):
    response = client.post(
        preferences_url(email="guest@example.com"),
        b"order=%FF%FE&timezone=%00&sms_consent=%ED%A0%80",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "order" in response.context["form"].errors
    assert stored() is None


def test_nul_in_a_one_click_body_is_no_one_click(strict_client, db):
    response = strict_client.post(
        unsubscribe_url(email="guest@example.com"),
        "List-Unsubscribe=One-Click%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403  # the confirmation form's CSRF check
    assert stored() is None


def test_the_pages_name_the_address_the_message_went_to(
    make_order, django_user_model, strict_client
):
    """An account's messages may go to another address than the account's own
    (the order's): the pages reached from a message name that one, and still
    change the account's preferences.
    """
    from django.core import mail

    from order_updates import services
    from order_updates.models import Notification
    from order_updates.notifications import delivery

    user = django_user_model.objects.create_user(
        "marie", "marie.account@example.com", "pw"
    )
    order = make_order(user=user, email="marie@example.com")
    services.start_tracking(order)
    delivery.deliver_batch(Notification.objects.values_list("pk", flat=True))
    [email] = mail.outbox
    assert email.to == ["marie@example.com"]
    unsubscribe = email.extra_headers["List-Unsubscribe"].strip("<>")
    path = unsubscribe.split("://", 1)[1].split("/", 1)[1]
    page = strict_client.get("/" + path)
    content = page.content.decode()
    assert "This is for marie@example.com." in content
    assert "marie.account@example.com" not in content
    token = str(page.context["csrf_token"])
    done = strict_client.post("/" + path, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200
    preference = NotificationPreference.objects.get()
    assert preference.user == user and preference.email == ""
    assert "email" not in preference.channels["order"]
    link = re.search(r"/order-updates/preferences/[^/\s\"]+/", email.body)[0]
    assert (
        "How we keep marie@example.com informed"
        in strict_client.get(link).content.decode()
    )
