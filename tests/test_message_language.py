"""The language a message is written in is one of the shop's ``LANGUAGES``, and
its links carry that language's ``i18n_patterns`` prefix: every link in every
message opens a page the shop serves.
"""

import re

import pytest
from django.core import mail
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.translation import get_language_from_path

from order_updates import services
from order_updates.models import Notification, NotificationPreference, OrderEvent
from order_updates.notifications import delivery
from order_updates.notifications.channels import get_channel
from order_updates.notifications.channels.push import WebPushChannel
from order_updates.notifications.templating import render_notification
from order_updates.notifications.templating.sources import (
    message_language,
    shop_language,
)
from order_updates.notifications.types import DEFAULT_TYPES

TYPES = [item.code for item in DEFAULT_TYPES]
SITE = "https://shop.example.com"
LINK = re.compile(re.escape(SITE) + r"(/[^\s\"'<>]*)")

#: (shop's LANGUAGE_CODE, customer's language) → the language of their messages,
#: the shop offering only English and German.
EXPECTED = {
    ("en-us", "de-DE"): "de",
    ("en-us", "de_de"): "de",
    ("en-us", "en-GB"): "en",
    ("en-us", "en-us"): "en",
    ("en-us", "fr"): "en",  # the package has French templates; the shop no pages
    ("en-us", ""): "en",
    ("de", "de-DE"): "de",
    ("de", "en-us"): "en",
    ("de", "fr"): "de",
    ("de", ""): "de",
}
CASES = sorted(EXPECTED)

#: Words of each language's email footer (text part) and "shipped" SMS.
EMAIL_WORDS = {"de": "Abmelden", "en": "Unsubscribe"}
SMS_WORDS = {"de": "unterwegs", "en": "on its way"}


@pytest.fixture
def i18n_shop(settings):
    """A shop whose pages are under /en/ and /de/ (``i18n_patterns``)."""
    settings.ROOT_URLCONF = "tests.urls_i18n"
    settings.LANGUAGES = [("en", "English"), ("de", "German")]
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:1],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    return settings


def customer_order(make_order, language, **extra):
    order = make_order(language=language, **extra)
    if not language:  # the shops' fields default to "en"; make it really blank
        model = type(order)
        if hasattr(order, "customer"):
            order.customer.preferred_language = ""
            order.customer.save()
        else:
            model.objects.filter(pk=order.pk).update(language="")
            order.refresh_from_db()
    return order


def paths(*texts):
    """The paths of the links to the shop in ``texts``."""
    return [path for text in texts for path in LINK.findall(text)]


def assert_served(path, language):
    """``path`` has ``language``'s prefix and resolves in it (as the middleware
    would, from the prefix)."""
    assert get_language_from_path(path) == language, path
    with translation.override(language):
        try:
            resolve(path)
        except Resolver404:  # pragma: no cover - the failure being tested
            pytest.fail("%s does not resolve" % path)


@pytest.mark.parametrize(("shop", "customer"), CASES)
def test_the_message_language_is_one_the_shop_offers(i18n_shop, db, shop, customer):
    i18n_shop.LANGUAGE_CODE = shop
    expected = EXPECTED[(shop, customer)]
    assert shop_language(customer) == expected
    assert message_language("shipped", "email", customer) == expected


def test_english_is_not_used_where_the_shop_does_not_offer_it(settings, db):
    settings.LANGUAGES = [("de", "German"), ("pl", "Polish")]
    settings.LANGUAGE_CODE = "pl"
    # No Polish templates: the shop's language anyway (its pages exist), with
    # the English files, rather than an English message linking to /en/.
    assert message_language("shipped", "email", "pl") == "pl"
    assert message_language("shipped", "email", "en") == "pl"
    assert message_language("shipped", "email", "de-AT") == "de"


def test_without_language_prefixes_any_language_django_has_is_kept(settings, db):
    # Django's own LANGUAGES (every language): French customers read French.
    assert message_language("shipped", "email", "fr-CA") == "fr"
    assert message_language("shipped", "email", "de-AT") == "de"


@pytest.mark.parametrize(("shop", "customer"), CASES)
def test_every_link_of_every_message_is_served(
    i18n_shop, make_order, ship_order, shop, customer
):
    i18n_shop.LANGUAGE_CODE = shop
    expected = EXPECTED[(shop, customer)]
    order = customer_order(make_order, customer)
    ship_order(order)
    event = OrderEvent.objects.filter(order_id=order.pk).order_by("sequence").last()
    channels = [get_channel("email"), get_channel("sms"), WebPushChannel("push")]
    for type_code in TYPES:
        for channel in channels:
            row = Notification(
                order=order,
                event=event,
                type=type_code,
                channel=channel.name,
                recipient="someone@example.com",
                language=customer,
            )
            rendered = render_notification(row, order, channel)
            parts = [rendered[part] for part in channel.parts]
            found = paths(*parts, rendered["url"])
            for path in found:
                assert_served(path, expected)
            assert row.language == expected  # what render_notification wrote in
            if channel.name == "email":
                assert '<html lang="%s">' % expected in rendered["html"]
                assert EMAIL_WORDS[expected] in rendered["text"]
                assert found, type_code  # at least preferences and unsubscribe
            if channel.name == "sms" and type_code == "shipped":
                assert SMS_WORDS[expected] in rendered["text"]


@pytest.mark.parametrize(("shop", "customer"), CASES)
def test_sent_messages_link_to_pages_in_their_language(
    i18n_shop, make_order, django_user_model, client, sms_outbox, shop, customer
):
    i18n_shop.LANGUAGE_CODE = shop
    expected = EXPECTED[(shop, customer)]
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(user=user, sms_consent_at=timezone.now())
    order = customer_order(make_order, customer, user=user, phone="+4930901820")
    services.start_tracking(order)
    rows = list(Notification.objects.filter(order_id=order.pk))
    assert {row.channel for row in rows} == {"email", "sms"}
    delivery.deliver_batch([row.pk for row in rows])
    [email] = mail.outbox
    [sms] = sms_outbox
    html = email.alternatives[0][0]
    assert '<html lang="%s">' % expected in html
    unsubscribe = email.extra_headers["List-Unsubscribe"].strip("<>")
    found = paths(email.body, html, unsubscribe, sms.body)
    assert LINK.match(unsubscribe) and LINK.match(unsubscribe)[1] in found
    names = set()
    for path in dict.fromkeys(found):
        assert_served(path, expected)
        with translation.override(expected):
            names.add(resolve(path).url_name)
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Content-Language"] == expected
    assert {"tracking", "preferences", "unsubscribe"} <= names
    # The outbox rows keep the language the shop serves the customer in.
    assert {row.language for row in rows} == {expected}


@pytest.fixture
def ship_order(db):
    """Move an order to "shipped" with a UPS shipment."""

    def ship(order):
        services.start_tracking(order)
        services.set_status(order, "confirmed")
        services.add_shipment(
            order,
            carrier="ups",
            tracking_number="1Z999AA10123456784",
            tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
            status="shipped",
        )

    return ship


@pytest.mark.parametrize(("language", "locale"), [("de", "de_DE"), ("en", "en_US")])
def test_the_carriers_page_opens_in_the_message_language(
    i18n_shop, make_order, language, locale
):
    order = customer_order(make_order, language)
    services.start_tracking(order)
    services.add_shipment(
        order, carrier="dpd", tracking_number="01234567890123", status="shipped"
    )
    rows = Notification.objects.filter(order_id=order.pk, type="shipped")
    delivery.deliver_batch([row.pk for row in rows])
    [email] = mail.outbox
    link = "https://tracking.dpd.de/status/%s/parcel/01234567890123" % locale
    assert link in email.body
    assert link in email.alternatives[0][0]
