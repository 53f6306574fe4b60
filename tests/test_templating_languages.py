"""The German and French default notification templates (``notifications/de|fr/``)."""

import pytest
from django.utils import translation

from order_updates import services
from order_updates.models import Notification, OrderEvent
from order_updates.notifications.channels.email import EmailChannel
from order_updates.notifications.channels.push import WebPushChannel
from order_updates.notifications.channels.sms import SMSChannel
from order_updates.notifications.templating import (
    render,
    render_notification,
    sample_context,
    strict_undefined,
)
from order_updates.notifications.templating.sources import PACKAGE_DIR
from order_updates.notifications.types import DEFAULT_TYPES
from tests.links import SAMPLE_TOKEN

TYPES = [item.code for item in DEFAULT_TYPES]
EMAIL, SMS, PUSH = EmailChannel("email"), SMSChannel("sms"), WebPushChannel("push")
CHANNELS = {"email": EMAIL, "sms": SMS, "push": PUSH}
LANGUAGES = ["de", "fr"]


#: Copy of the English layout, footer and partials that must not leak into a
#: translated message.
ENGLISH_MARKERS = [
    "Track your order",
    "View your order",
    "Order summary",
    "Shipping address",
    "You're receiving this email",
    "Notification preferences",
    "Unsubscribe",
    "Tracking number",
    "Hi Ada",
]

#: Footer and summary copy each language's layout shows.
LAYOUT_MARKERS = {
    "de": {
        "html": [
            "Sie erhalten diese E-Mail",
            "Abmelden",
            "Ihre Bestellung im Überblick",
        ],
        "text": ["Abmelden: ", "Ihre Bestellung im Überblick", "Hallo Ada Lovelace,"],
    },
    "fr": {
        "html": ["Vous recevez cet e-mail", "Se désabonner", "Récapitulatif"],
        "text": ["Se désabonner : ", "Récapitulatif", "Bonjour Ada Lovelace,"],
    },
}


def sample(type_code, channel, language):
    """The sample context with its labels in ``language``."""
    with translation.override(language):
        return sample_context(type_code, channel)


def english_files():
    return sorted(
        str(path.relative_to(PACKAGE_DIR))
        for channel in CHANNELS
        for path in (PACKAGE_DIR / channel).iterdir()
        if path.is_file()
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_default_file_is_translated(language):
    missing = [
        name
        for name in english_files()
        if not (PACKAGE_DIR / language / name).is_file()
    ]
    assert missing == []
    for name in english_files():
        translated = (PACKAGE_DIR / language / name).read_text(encoding="utf-8")
        assert translated.strip(), name
        assert translated != (PACKAGE_DIR / name).read_text() or (
            "_message." in name or name == "push/note_added_body.txt"
        ), "%s is not translated" % name


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("type_code", TYPES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_translated_default_renders_with_sample_data(db, language, type_code, channel):
    context = sample(type_code, channel, language)
    with strict_undefined():
        rendered = render(type_code, CHANNELS[channel], language, context)
    parts = CHANNELS[channel].parts
    assert set(rendered) == {*parts, "url"}
    for part in parts:
        assert rendered[part].strip(), part
        for marker in ENGLISH_MARKERS:
            assert marker not in rendered[part], (part, marker)
    assert "1001" in (rendered.get("subject") or rendered["text"])
    english = render(
        type_code, CHANNELS[channel], "en", sample(type_code, channel, "en")
    )
    assert rendered["url"] == english["url"]
    if "subject" in parts:
        assert rendered["subject"] != english["subject"]
        assert "\n" not in rendered["subject"]
    if channel == "email":
        assert len(rendered["subject"]) <= 80
        assert rendered["html"].startswith("<!DOCTYPE html>")
        assert '<html lang="%s">' % language in rendered["html"]
        assert "Test Shop" in rendered["html"]
        for marker in LAYOUT_MARKERS[language]["html"]:
            assert marker in rendered["html"], marker
        for marker in LAYOUT_MARKERS[language]["text"]:
            assert marker in rendered["text"], marker
        unsubscribe = "/order-updates/unsubscribe/%s/" % SAMPLE_TOKEN
        assert unsubscribe in rendered["html"]
        assert unsubscribe in rendered["text"]
    if channel == "sms":
        # With the link as long as a real one: one GSM-7 part, as sent.
        text = CHANNELS["sms"].complete_text(rendered["text"], rendered["url"])
        assert CHANNELS["sms"].segments(text) == ("GSM-7", 1), text
    if channel == "push":
        assert len(rendered["subject"]) <= 50
        assert len(rendered["text"]) <= 140


BUTTONS = {
    # (an order message, a shipping message, no tracking link): the button
    # names the parcel only where there is one.
    "fr": ("Suivre votre commande", "Suivre votre colis", "Voir votre commande"),
    "de": ("Bestellung verfolgen", "Sendung verfolgen", "Bestellung ansehen"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_button_tracks_the_order_or_the_parcel(db, language):
    order_label, parcel_label, view_label = BUTTONS[language]
    for type_code, label in (
        ("order_confirmed", order_label),
        ("shipped", parcel_label),
    ):
        context = sample(type_code, "email", language)
        context["links"]["primary"] = context["links"]["track"]
        rendered = render(type_code, EMAIL, language, context)
        for part in ("html", "text"):
            assert label in rendered[part], (type_code, part)
    context = sample("order_confirmed", "email", language)
    context["links"]["order"] = "https://shop.example.com/account/orders/1001/"
    context["links"]["primary"] = context["links"]["order"]
    assert view_label in render("order_confirmed", EMAIL, language, context)["html"]
    # No total claims tax it may not include ("TTC").
    assert "TTC" not in render("shipped", EMAIL, language, context)["text"]


@pytest.mark.parametrize("type_code", TYPES)
def test_regional_language_falls_back_to_base_language_files(db, type_code):
    for channel in CHANNELS:
        context = sample(type_code, channel, "de")
        base = render(type_code, CHANNELS[channel], "de", context)
        english = render(type_code, CHANNELS[channel], "en", context)
        for regional_code in ("de-at", "de_AT", "de-CH"):
            regional = render(type_code, CHANNELS[channel], regional_code, context)
            for part, text in regional.items():
                if channel == "email" and part in ("text", "html"):
                    # Amounts follow the region ("€ 24,00" in Austria).
                    for marker in LAYOUT_MARKERS["de"][part]:
                        assert marker in text, (regional_code, marker)
                    for marker in ENGLISH_MARKERS:
                        assert marker not in text, (regional_code, marker)
                else:
                    assert text == base[part], (regional_code, part)
                    if part == ("text" if channel == "sms" else "subject"):
                        assert text != english[part], (regional_code, part)


def test_regional_email_gets_the_base_language_layout(db):
    html = render("shipped", EMAIL, "fr-ca", sample("shipped", "email", "fr"))["html"]
    assert "Vous recevez cet e-mail" in html
    assert "Transporteur" in html and "Carrier" not in html


def test_other_languages_still_get_english(db):
    rendered = render("shipped", EMAIL, "it", sample("shipped", "email", "it"))
    assert rendered["subject"] == "Your order #1001 is on its way"
    assert "You're receiving this email" in rendered["html"]


def notification_for(order, type_code, channel, language):
    """An outbox row for the order's latest event."""
    event = OrderEvent.objects.filter(order_id=order.pk).order_by("sequence").last()
    return Notification.objects.create(
        order=order,
        event=event,
        type=type_code,
        channel=channel,
        recipient="someone@example.com",
        language=language,
        dedupe_key="test:%s:%s:%s" % (event.pk, channel, type_code),
    )


@pytest.mark.parametrize(
    ("language", "subject", "footer"),
    [
        ("de", "Vielen Dank für Ihre Bestellung Nr. ", "Sie erhalten diese E-Mail"),
        ("fr", "Merci pour votre commande n° ", "Vous recevez cet e-mail"),
    ],
)
def test_customer_order_renders_in_their_language(
    make_order, language, subject, footer
):
    order = make_order(language=language)
    services.start_tracking(order)
    notification = notification_for(order, "order_received", "email", language)
    with strict_undefined():
        rendered = render_notification(notification, order, EMAIL)
    assert rendered["subject"].startswith(subject)
    assert footer in rendered["html"]
    assert "/order-updates/unsubscribe/" in rendered["html"]
    for marker in ENGLISH_MARKERS:
        assert marker not in rendered["html"] and marker not in rendered["text"]
    sms = notification_for(order, "order_received", "sms", language)
    with strict_undefined():
        text = render_notification(sms, order, SMS)["text"]
    assert text.startswith("Test Shop: ")
    assert "Thanks" not in text
