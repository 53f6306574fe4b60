"""Notification templates: defaults, lookup, context, sandbox, validation, revisions."""

import datetime
import re
import zoneinfo

import pytest
from django.utils import timezone, translation
from liquid.extra import ExtendsTag

from order_updates import services
from order_updates.core.adapter import DefaultOrderAdapter, get_adapter
from order_updates.exceptions import (
    OrderUpdatesError,
    TemplateError,
    TemplateValidationError,
)
from order_updates.models import (
    Notification,
    NotificationTemplate,
    OrderEvent,
)
from order_updates.notifications import templating
from order_updates.notifications.channels.base import BaseChannel
from order_updates.notifications.channels.email import EmailChannel
from order_updates.notifications.channels.push import WebPushChannel
from order_updates.notifications.channels.sms import SMSChannel
from order_updates.notifications.channels.test import TestChannel
from order_updates.notifications.links import absolute_url, tracking_path
from order_updates.notifications.templating import (
    build_context,
    preview,
    render,
    render_notification,
    restore_revision,
    revert_to_default,
    sample_context,
    save_template,
    strict_undefined,
    validate_template,
)
from order_updates.notifications.templating.environment import (
    NotificationEnvironment,
    format_date,
    get_environment,
    money,
)
from order_updates.notifications.types import DEFAULT_TYPES
from tests.links import SAMPLE_TRACK, is_tracking_link

TYPES = [item.code for item in DEFAULT_TYPES]
SHIPPING_TYPES = [item.code for item in DEFAULT_TYPES if item.category == "shipping"]
EMAIL, SMS, PUSH = EmailChannel("email"), SMSChannel("sms"), WebPushChannel("push")
TEST = TestChannel("test")
CHANNELS = {"email": EMAIL, "sms": SMS, "push": PUSH}
TRACKING_URL = "https://www.ups.com/track?tracknum=1Z999AA10123456784"


@pytest.fixture
def ship(db):
    """Move an order to "shipped" with a UPS shipment; returns the status event."""

    def ship(order, message=""):
        services.start_tracking(order)
        services.set_status(order, "confirmed")
        services.set_status(order, "processing")
        services.add_shipment(
            order,
            carrier="ups",
            tracking_number="1Z999AA10123456784",
            tracking_url=TRACKING_URL,
            status="shipped",
            message=message,
        )
        return OrderEvent.objects.filter(order_id=order.pk).order_by("sequence").last()

    return ship


def notification_for(order, type_code, channel, *, event=None, language="en"):
    """An outbox row for ``event`` (default: the order's latest event)."""
    if event is None:
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


def render_row(notification, order):
    """Render an outbox row for the channel it names."""
    channel = CHANNELS[notification.channel]
    return render_notification(notification, order, channel)


def walk(value, path="context"):
    """Yield (path, leaf) for every leaf of a nested dict/list."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, path
            yield from walk(item, "%s.%s" % (path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, "%s[%d]" % (path, index))
    else:
        yield path, value


PLAIN_TYPES = (str, int, float, bool, type(None), datetime.datetime, datetime.date)


# Every default renders ---------------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("type_code", TYPES)
def test_default_renders_with_sample_data(db, type_code, channel):
    with strict_undefined():
        rendered = render(
            type_code, CHANNELS[channel], "en", sample_context(type_code, channel)
        )
    parts = CHANNELS[channel].parts
    assert set(rendered) == {*parts, "url"}
    for part in parts:
        assert rendered[part].strip(), part
    assert "1001" in (rendered.get("subject") or rendered["text"])
    if "subject" in parts:
        assert "\n" not in rendered["subject"]
        assert len(rendered["subject"]) <= 80
    if channel == "email":
        assert rendered["html"].startswith("<!DOCTYPE html>")
        assert "Test Shop" in rendered["html"]
        assert "Unsubscribe" in rendered["html"] and "Unsubscribe" in rendered["text"]
    # The shop's tracking page (which links on to the carrier's), where the shop
    # mounted it; for every type, as the test shop has no order page of its own.
    assert rendered["url"] == SAMPLE_TRACK


@pytest.mark.parametrize("type_code", TYPES)
def test_default_renders_for_a_real_order(make_order, ship, type_code):
    order = make_order()
    if type_code in SHIPPING_TYPES:
        ship(order, message="Packed with care.")
    elif type_code == "cancelled":
        services.start_tracking(order)
        services.set_status(order, "cancelled", message="Sorry, that's sold out.")
    else:
        services.start_tracking(order)
        services.add_note(order, "We will ship on Monday.")
    for channel in CHANNELS:
        notification = notification_for(order, type_code, channel)
        with strict_undefined():
            rendered = render_row(notification, order)
        number = build_context(notification, order)["order"]["number"]
        assert number in (rendered.get("subject") or rendered["text"])
        if channel == "email":
            assert "/order-updates/unsubscribe/" in rendered["html"]
            assert "/order-updates/preferences/" in rendered["text"]
            if type_code in SHIPPING_TYPES:
                assert "1Z999AA10123456784" in rendered["text"]
                assert "Packed with care." in rendered["text"]
                assert is_tracking_link(rendered["url"], order)
                assert "Track your order: %s" % rendered["url"] in rendered["text"]


@pytest.mark.parametrize("type_code", TYPES)
def test_sms_fits_one_gsm7_part_with_a_real_length_link(db, type_code):
    rendered = render(type_code, SMS, "en", sample_context(type_code, "sms"))
    text = SMS.complete_text(rendered["text"], rendered["url"])
    # The sample link is as long as the real one of order 1001 (a signed
    # token): the preview counts the parts a merchant pays for.
    assert len(rendered["url"]) == len(absolute_url(tracking_path(1001)))
    assert SMS.segments(text) == ("GSM-7", 1), text


def test_push_is_short(db):
    for type_code in TYPES:
        rendered = render(type_code, PUSH, "en", sample_context(type_code, "push"))
        assert len(rendered["subject"]) <= 50
        assert len(rendered["text"]) <= 140


def test_email_html_has_its_css_inlined(db):
    html = render("shipped", EMAIL, "en", sample_context("shipped", "email"))["html"]
    assert re.search(r'<h1 style="[^"]*font-size: 24px', html)
    assert re.search(r'<td class="content" style="[^"]*padding', html)
    # Plain rules are gone from <style>; media queries stay for the clients that
    # read them.
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert style.strip().startswith("@media")
    assert ".content {" not in style.split("@media")[0]


def test_email_text_is_tidy(db):
    text = render("shipped", EMAIL, "en", sample_context("shipped", "email"))["text"]
    assert "\n\n\n" not in text
    assert not re.search(r"[ \t]+$", text, re.M)
    assert text.startswith("Hi Ada Lovelace,")


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize(
    "type_code", [item.code for item in DEFAULT_TYPES if item.coalesce]
)
def test_default_emails_show_carried_messages_before_their_own(db, language, type_code):
    """Messages of superseded notifications (coalescing), oldest first, then
    the event's own, in every default email, in text and HTML.
    """
    with translation.override(language):
        context = sample_context(type_code, "email")
        context["event"]["message"] = "Third & last."
        context["event"]["earlier_messages"] = [
            {"message": "First one.", "created_at": context["event"]["created_at"]},
            {"message": "Second\none.", "created_at": context["event"]["created_at"]},
        ]
        rendered = render(type_code, EMAIL, language, context)
    text, html = rendered["text"], rendered["html"]
    assert "\n\nFirst one.\n\nSecond\none.\n\nThird & last." in text
    assert "\n\n\n" not in text
    first, second = html.index("First one."), html.index("Second<br")
    assert first < second < html.index("Third &amp; last.")


# Context -----------------------------------------------------------------------------


def test_context_is_plain_data(make_order, ship):
    order = make_order()
    ship(order)
    context = build_context(notification_for(order, "shipped", "email"), order)
    assert set(context) == set(templating.CONTEXT_KEYS)
    for root, key in templating.CONTEXT_KEYS.items():
        value = context[root]
        items = value if key.is_list else [value]
        for item in items:
            assert set(item) == key.keys, root
    for path, leaf in walk(context):
        assert type(leaf) in PLAIN_TYPES, (path, type(leaf))
    assert context["shipment"]["carrier_name"] == "UPS"
    assert context["links"]["tracking"] == TRACKING_URL
    assert context["order"]["status"] == "shipped"
    assert [stage["done"] for stage in context["order"]["stages"]] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [stage["current"] for stage in context["order"]["stages"]].index(True) == 2
    assert context["event"]["to_status_label"] == "Shipped"


def test_sample_context_has_the_documented_keys(db):
    for type_code in TYPES:
        context = sample_context(type_code, "email")
        assert set(context) == set(templating.CONTEXT_KEYS)
        for path, leaf in walk(context):
            assert type(leaf) in PLAIN_TYPES, (path, type(leaf))


def test_german_customer_gets_german_labels_and_dates(make_order, ship):
    order = make_order(language="de")
    ship(order)
    notification = notification_for(order, "shipped", "email", language="de")
    context = build_context(notification, order)
    assert context["order"]["status_label"] == "Versandt"
    assert context["order"]["stage_label"] == "Unterwegs"
    assert context["notification"]["language"] == "de"
    assert translation.get_language() == "en"  # restored afterwards
    with translation.override("de"):
        assert format_date(datetime.date(2026, 3, 5)) == "5. März 2026"
        assert money("1234.5", "EUR") == "1.234,50\xa0€"
    assert money("1234.5", "EUR") == "€1,234.50"
    assert money("") == "" and money(None) == "" and money("n/a") == "n/a"


def test_regional_language_uses_base_translations(make_order, ship):
    order = make_order()
    ship(order)
    notification = notification_for(order, "shipped", "email", language="de-at")
    assert build_context(notification, order)["order"]["status_label"] == "Versandt"


def test_dates_are_in_the_given_time_zone(make_order, ship):
    order = make_order(email="zoned@example.com")
    ship(order)
    zone = zoneinfo.ZoneInfo("America/New_York")
    context = build_context(notification_for(order, "shipped", "email"), order, zone)
    assert context["event"]["created_at"].tzinfo == zone
    assert context["shipment"]["shipped_at"].tzinfo == zone


def test_without_a_zone_dates_are_in_the_shops(make_order, ship, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    order = make_order(email="nozone@example.com")
    ship(order)
    context = build_context(notification_for(order, "shipped", "email"), order)
    assert context["event"]["created_at"].tzinfo == zoneinfo.ZoneInfo("Europe/Berlin")


class AccountPagesAdapter(DefaultOrderAdapter):
    """A shop whose customers see their orders under /account/orders/."""

    def get_order_url(self, order):
        return "/account/orders/"


def test_order_link_comes_from_the_adapter_if_it_has_one(make_order, settings):
    order = make_order()
    services.start_tracking(order)
    notification = notification_for(order, "order_received", "sms")
    assert build_context(notification, order)["links"]["order"] == ""
    assert is_tracking_link(render_row(notification, order)["url"], order)
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_templating.AccountPagesAdapter",
    }
    rendered = render_row(notification, order)
    assert rendered["url"] == "https://shop.example.com/account/orders/"
    assert rendered["text"].endswith(" https://shop.example.com/account/orders/")


def test_shipping_link_is_the_tracking_page_order_link_otherwise(
    make_order, ship, settings
):
    order = make_order()
    ship(order)
    shipped = render_row(notification_for(order, "shipped", "push"), order)
    # The signed tracking page of the order (which links on to the carrier).
    assert is_tracking_link(shipped["url"], order)
    note = services.add_note(order, "Hello")
    other = notification_for(order, "note_added", "push", event=note)
    # Without an order page of the shop's, the tracking page too.
    assert is_tracking_link(render_row(other, order)["url"], order)
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_templating.AccountPagesAdapter",
    }
    assert render_row(other, order)["url"] == (
        "https://shop.example.com/account/orders/"
    )


# A partial shipment ------------------------------------------------------------------

#: What the default "shipped" email says of a parcel that carries part of the order.
PARTIAL_COPY = {
    "en": ("Part of your order #", "The rest follows", "In this parcel\n- Tea x 1"),
    "de": ("Ein Teil Ihrer Bestellung", "Der Rest folgt", "In diesem Paket\n- Tea x 1"),
    "fr": (
        "Une partie de votre commande",
        "Le reste suivra",
        "Dans ce colis\n- Tea x 1",
    ),
}


def ship_parcel(order, key, **extra):
    """Send a parcel with ``key`` of the order's lines: the mugs or the tea."""
    mug, tea = get_adapter().get_line_quantities(order)  # 2 mugs, 1 tea
    items = {
        "mugs": [{"line": mug, "quantity": 2}],
        "tea": [{"line": tea, "quantity": 1}],
    }
    services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z999AA1012345678%d" % len(key),
        items=items[key],
        shipped_at=timezone.now(),
        **extra,
    )
    return OrderEvent.objects.filter(order_id=order.pk).order_by("sequence").last()


@pytest.mark.parametrize("language", PARTIAL_COPY)
def test_a_partial_shipment_says_so_and_lists_only_the_parcel(make_order, language):
    order = make_order()
    services.start_tracking(order)
    services.set_status(order, "processing")
    event = ship_parcel(order, "tea")
    assert (event.kind, event.to_status) == ("status_changed", "partially_shipped")
    email = notification_for(order, "shipped", "email", language=language)
    context = build_context(email, order)
    assert context["order"]["status"] == "partially_shipped"
    assert context["shipment"]["items"] == [{"name": "Tea", "quantity": 1}]
    rendered = render_row(email, order)
    subject_start, rest_follows, parcel = PARTIAL_COPY[language]
    assert rendered["subject"].startswith(subject_start), rendered["subject"]
    assert rest_follows in rendered["text"]
    assert parcel in rendered["text"]
    # Neither says the mugs are on their way (no full order summary).
    assert "Mug" not in rendered["text"]
    assert "Mug" not in rendered["html"]
    assert re.search(r"<li[^>]*>Tea (&times;|\u00d7) 1</li>", rendered["html"])
    for channel in ("sms", "push"):
        row = notification_for(order, "shipped", channel, language=language)
        short = render_row(row, order)
        assert rest_follows.split()[-1] in short["text"], short["text"]
        assert "Mug" not in short["text"]


def test_a_full_shipment_is_unchanged_and_a_last_parcel_lists_its_items(
    make_order, ship
):
    order = make_order()
    ship(order)  # one parcel, the whole order
    email = notification_for(order, "shipped", "email")
    assert build_context(email, order)["shipment"]["items"] == []
    rendered = render_row(email, order)
    assert (
        rendered["subject"]
        == "Your order #%s is on its way"
        % (build_context(email, order)["order"]["number"])
    )
    assert "\n\nGood news: your order has shipped with UPS. " in rendered["text"]
    assert "In this parcel" not in rendered["text"]
    assert "rest" not in rendered["text"]
    assert "Order summary\n- Mug x 2" in rendered["text"]
    assert "- Tea x 1" in rendered["text"]
    # Split in two: the last parcel completes the order, which shows whole.
    split = make_order()
    services.start_tracking(split)
    services.set_status(split, "processing")
    ship_parcel(split, "tea")
    event = ship_parcel(split, "mugs")
    assert event.to_status == "shipped"
    rendered = render_row(notification_for(split, "shipped", "email"), split)
    assert rendered["subject"].startswith("Your order #")
    assert "In this parcel\n- Mug x 2\n" in rendered["text"]
    assert "Order summary\n- Mug x 2" in rendered["text"]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", PARTIAL_COPY)
def test_partial_sample_renders_and_its_sms_fits_one_part(db, channel, language):
    with translation.override(language):
        context = sample_context("shipped", channel, status="partially_shipped")
    assert context["shipment"]["items"]
    with strict_undefined():
        rendered = render("shipped", CHANNELS[channel], language, context)
    assert PARTIAL_COPY[language][1].split()[-1] in rendered["text"]
    if channel == "sms":
        text = SMS.complete_text(rendered["text"], rendered["url"])
        assert SMS.segments(text) == ("GSM-7", 1), text
    if channel == "push":
        assert len(rendered["subject"]) <= 50
        assert len(rendered["text"]) <= 140


# Lookup order ------------------------------------------------------------------------


@pytest.fixture
def template_dir(tmp_path, settings):
    """A shop template directory searched before the app's templates."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]

    def write(name, text):
        path = tmp_path / "order_updates" / "notifications" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return write


def test_merchant_template_wins_and_base_language_applies(db):
    context = sample_context("shipped", "email")
    save_template("shipped", EMAIL, "de", subject="Bestellung {{ order.number }}")
    assert render("shipped", EMAIL, "de", context)["subject"] == "Bestellung 1001"
    assert render("shipped", EMAIL, "de-AT", context)["subject"] == "Bestellung 1001"
    assert render("shipped", EMAIL, "de_at", context)["subject"] == "Bestellung 1001"
    save_template("shipped", EMAIL, "de-at", subject="Servus {{ order.number }}")
    assert render("shipped", EMAIL, "de-at", context)["subject"] == "Servus 1001"
    assert render("shipped", EMAIL, "de", context)["subject"] == "Bestellung 1001"
    # Other languages, and parts the merchant left blank, use the files.
    assert render("shipped", EMAIL, "en", context)["subject"] == (
        "Your order #1001 is on its way"
    )
    assert "gute Nachrichten" in render("shipped", EMAIL, "de", context)["text"]


def test_inactive_merchant_template_is_ignored(db):
    save_template("shipped", SMS, "en", body_text="Custom {{ order.number }}")
    context = sample_context("shipped", "sms")
    assert render("shipped", SMS, "en", context)["text"] == "Custom 1001"
    revert_to_default("shipped", SMS, "en")
    assert render("shipped", SMS, "en", context)["text"].startswith("Test Shop: ")


def test_shop_file_overrides_the_default(db, template_dir):
    context = sample_context("delivered", "email")
    template_dir("email/delivered_subject.txt", "Arrived: {{ order.number }}\n")
    template_dir("de/email/delivered_subject.txt", "Angekommen: {{ order.number }}")
    assert render("delivered", EMAIL, "en", context)["subject"] == "Arrived: 1001"
    assert render("delivered", EMAIL, "de-ch", context)["subject"] == "Angekommen: 1001"
    # The other parts still come from the package.
    assert "has been delivered" in render("delivered", EMAIL, "en", context)["text"]
    # A merchant's template wins over the shop's file.
    save_template("delivered", EMAIL, "en", subject="Merchant {{ order.number }}")
    assert render("delivered", EMAIL, "en", context)["subject"] == "Merchant 1001"


def test_shop_file_overrides_a_partial(db, template_dir):
    template_dir(
        "email/_layout.html",
        "<html><body><h1>{% block heading %}{% endblock %}</h1>"
        "{% block content %}{% endblock %}<p>Our own footer</p></body></html>",
    )
    html = render("shipped", EMAIL, "en", sample_context("shipped", "email"))["html"]
    assert "Our own footer" in html
    assert "Your order is on its way" in html


def test_missing_template_names_the_file_to_add(db, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "NOTIFICATION_TYPES": {
            "gift_card": {"label": "Gift card", "category": "order"}
        },
    }
    with pytest.raises(TemplateError, match="order_updates/notifications/email/"):
        render("gift_card", EMAIL, "en", sample_context("gift_card", "email"))


def test_template_with_only_subject_and_text_sends_no_html(db, template_dir, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "NOTIFICATION_TYPES": {
            "gift_card": {"label": "Gift card", "category": "order"}
        },
    }
    template_dir("email/gift_card_subject.txt", "Your gift card")
    template_dir("email/gift_card_body.txt", "Here it is, {{ customer.name }}.")
    rendered = render("gift_card", EMAIL, "en", sample_context("gift_card", "email"))
    assert rendered == {
        "subject": "Your gift card",
        "text": "Here it is, Ada Lovelace.",
        "html": "",
        "url": SAMPLE_TRACK,
    }


def test_channel_without_templates_uses_the_email_templates(db):
    rendered = render("shipped", TEST, "en", sample_context("shipped", "test"))
    assert rendered["subject"] == "Your order #1001 is on its way"
    assert rendered["html"]


class ChatChannel(BaseChannel):
    """A shop's own channel: only its ``parts`` matter here."""

    parts = ("text",)


CHAT = ChatChannel("chat")


def test_other_channel_renders_its_declared_parts(db):
    rendered = render("shipped", CHAT, "en", sample_context("shipped", "chat"))
    assert set(rendered) == {"text", "url"}
    assert rendered["text"].startswith("Hi Ada Lovelace,")


def test_codes_that_are_not_names_are_refused(db):
    with pytest.raises(TemplateError):
        render("../../../etc/passwd", EMAIL, "en", {})


# Rendering errors --------------------------------------------------------------------


def test_broken_merchant_template_raises_a_clear_template_error(make_order, ship):
    order = make_order()
    ship(order)
    # Bypass validation, as a row edited in the database would.
    NotificationTemplate.objects.create(
        type="shipped",
        channel="email",
        language="en",
        subject="{{ order.number | nope }}",
    )
    with pytest.raises(TemplateError) as caught:
        render_row(notification_for(order, "shipped", "email"), order)
    message = str(caught.value)
    assert "subject" in message and "shipped email" in message
    assert "notification template shipped/email/en" in message
    assert "unknown filter 'nope'" in message
    assert isinstance(caught.value, OrderUpdatesError)


def test_subject_is_one_line_and_sms_whitespace_collapses(db):
    save_template(
        "shipped", EMAIL, "en", subject="  Line one\n\n   line   two  ", body_text=""
    )
    save_template("shipped", SMS, "en", body_text="A\n\n  B   {{ order.number }}\n")
    context = sample_context("shipped", "email")
    assert render("shipped", EMAIL, "en", context)["subject"] == "Line one line two"
    assert render("shipped", SMS, "en", context)["text"] == "A B 1001"


# Autoescape --------------------------------------------------------------------------


def test_html_is_autoescaped_text_is_not(make_order, ship, django_user_model):
    order = make_order()
    ship(order, message='<img src=x onerror="alert(1)">')
    context = build_context(notification_for(order, "shipped", "email"), order)
    context["customer"]["name"] = "<script>alert('x')</script>"
    rendered = render("shipped", EMAIL, "en", context)
    assert "<script>" not in rendered["html"]
    # (the CSS inliner re-serializes: quotes in text need no escaping)
    assert "Hi &lt;script&gt;alert('x')&lt;/script&gt;," in rendered["html"]
    assert "<img src=x" not in rendered["html"]
    assert "&lt;img src=x onerror=" in rendered["html"]
    assert "Hi <script>alert('x')</script>," in rendered["text"]


def test_safe_strings_in_data_are_escaped_too(db):
    from django.utils.safestring import mark_safe

    from order_updates.core.adapter import plain

    context = sample_context("shipped", "email")
    context["customer"]["name"] = plain(mark_safe("<b>Ada</b>"))
    html = render("shipped", EMAIL, "en", context)["html"]
    assert "<b>Ada</b>" not in html and "&lt;b&gt;Ada&lt;/b&gt;" in html


# Sandbox -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "variable"),
    [
        ("{{ settings.SECRET_KEY }}", "settings"),
        ("{{ order.delete }}", "order.delete"),
        ("{{ order.__class__ }}", "order.__class__"),
        ("{{ order.items.__class__.__mro__ }}", None),
        ("{{ shop.name.__class__ }}", None),
    ],
)
def test_templates_cannot_reach_python(db, settings, source, variable):
    if variable:
        errors = validate_template("shipped", SMS, body_text=source)
        assert "unknown variable '%s'" % variable in errors["body_text"][0]
    rendered = preview("shipped", SMS, "en", body_text=source + "|end")
    assert rendered["text"] == "|end"
    assert settings.SECRET_KEY not in rendered["text"]


@pytest.mark.parametrize(
    "source",
    [
        "{% include '/etc/passwd' %}",
        "{% include '../../settings.py' %}",
        "{% render '../../../tests/settings.py' %}",
        "{% include 'email/../../../../tests/settings.py' %}",
        "{% extends '/etc/passwd' %}",
        "{% include 'order_updates/base.html' %}",
    ],
)
def test_templates_cannot_read_files(db, source):
    errors = validate_template("shipped", EMAIL, body_html=source)
    assert "can't be included" in " ".join(errors["body_html"])
    with pytest.raises(TemplateError) as caught:
        preview("shipped", EMAIL, "en", body_html=source)
    assert "root:" not in str(caught.value)
    assert "SECRET_KEY" not in str(caught.value)


def test_templates_can_include_our_partials(db):
    source = '{% render "email/_shipment.html" %}'
    assert validate_template("shipped", EMAIL, body_html=source) == {}
    assert (
        "1Z999AA10123456784"
        in preview("shipped", EMAIL, "en", body_html=source)["html"]
    )


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{% for i in (1..1000000) %}x{% endfor %}", "has 1000000 items"),
        (
            "{% for i in (1..1000) %}{% for j in (1..1000) %}x{% endfor %}{% endfor %}",
            "these nested loops repeat 1000000 times",
        ),
        (
            "{% assign n = 1000 %}"
            "{% for i in (1..n) %}{% for j in (1..n) %}x{% endfor %}{% endfor %}",
            "loop iteration limit",
        ),
        (
            "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..40) %}"
            "{% assign s = s | append: s %}{% endfor %}",
            "local namespace limit",
        ),
        (
            "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..100) %}"
            "{% for j in (1..90) %}{{ s }}{{ s }}{{ s }}{{ s }}{% endfor %}"
            "{% endfor %}",
            "output stream limit",
        ),
    ],
)
def test_resource_limits(db, source, error):
    with pytest.raises(TemplateError, match=error):
        preview("shipped", SMS, "en", body_text=source)
    errors = validate_template("shipped", SMS, body_text=source)
    assert error in errors["body_text"][0]


def test_deep_nesting_is_refused(db):
    source = "{% if true %}" * 50 + "x" + "{% endif %}" * 50
    errors = validate_template("shipped", SMS, body_text=source)
    assert "nesting" in errors["body_text"][0]
    with pytest.raises(TemplateError):
        preview("shipped", SMS, "en", body_text=source)


def test_layout_blocks_render_as_liquids_own_extends_does(db):
    """Our extends finds each template's blocks once; the output is Liquid's."""
    source = (
        '{% extends "email/_layout.html" %}{% block heading %}Hi {{ customer.name }}'
        "{% endblock %}{% block content %}<p>{{ block.super }}x</p>{% endblock %}"
    )
    context = sample_context("shipped", "email")
    ours = get_environment(html=True).from_string(source)
    liquids = NotificationEnvironment(autoescape=True)
    liquids.add_tag(ExtendsTag)
    expected = liquids.from_string(source).render(**context)
    assert "Hi Ada Lovelace" in expected
    assert ours.render(**context) == expected
    assert ours.render(**context) == expected  # the blocks found are reused
    with translation.override("de"):  # the layout is still looked up per language
        assert "Bestellung" in ours.render(**context)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            '{% extends "email/_layout.html" %}{% block content %}a{% endblock %}'
            "{% block content %}b{% endblock %}",
            "duplicate block content",
        ),
        (
            '{% extends "email/_layout.html" %}{% extends "email/_layout.html" %}',
            "too many 'extends' tags",
        ),
        ('{% extends "email/_a.html" %}', "circular extends"),
    ],
)
def test_broken_inheritance_fails_at_every_render(db, template_dir, source, error):
    template_dir("email/_a.html", '{% extends "email/_b.html" %}')
    template_dir("email/_b.html", '{% extends "email/_a.html" %}')
    for _attempt in range(2):
        with pytest.raises(TemplateError, match=error):
            preview("shipped", EMAIL, "en", body_html=source)


def test_money_formats_equal_amounts_alike(db):
    assert money("89", "EUR") == money("89.00", "EUR") == "€89.00"
    with translation.override("de"):
        assert money("89.0", "eur") == "89,00\xa0€"
    assert money("89", "") == "89.00"
    assert money("NaN", "EUR") == "NaN" and money("sNaN") == "sNaN"
    assert money("Infinity", "EUR") == "Infinity"


def test_layout_cannot_extend_itself_forever(db, template_dir):
    template_dir("email/_loop.html", '{% include "email/_loop.html" %}')
    with pytest.raises(TemplateError, match="context depth"):
        preview("shipped", EMAIL, "en", body_html='{% include "email/_loop.html" %}')


# Validation --------------------------------------------------------------------------


def test_valid_template_has_no_errors(db):
    assert (
        validate_template(
            "shipped",
            EMAIL,
            subject="{{ order.number }} is on its way",
            body_text="{% for item in order.items %}{{ item.name }}{% endfor %}"
            "{{ shipments.first.tracking_url }}{{ shipments.size }}"
            "{% assign n = order.number %}{{ n }}{{ order.items.size }}",
            body_html='{% extends "email/_layout.html" %}{% block content %}'
            "<p>{{ customer.name | upcase }}</p>{% endblock %}",
        )
        == {}
    )


def test_syntax_errors_carry_line_numbers(db):
    errors = validate_template(
        "shipped", EMAIL, body_text="Hello\n\n{% if order.number %}\nno end"
    )
    assert errors["body_text"] == [
        "line 4 (end of the template): expected tag endif, found end of expression"
    ]
    errors = validate_template("shipped", EMAIL, subject="{{ order.number ")
    assert errors["subject"][0].startswith("line 1: ")
    errors = validate_template("shipped", EMAIL, subject="{% frobnicate %}")
    assert "frobnicate" in errors["subject"][0]


def test_unknown_variables_are_named_with_a_suggestion(db):
    errors = validate_template(
        "shipped",
        EMAIL,
        body_text="Hi\n{{ order.numbr }}\n{{ ordr.number }}\n{{ shipment.traking_url }}"
        "\n{{ shipments.first.carier }}\n{{ whatever }}",
    )
    assert errors["body_text"] == [
        "line 2: unknown variable 'order.numbr'. Did you mean 'order.number'?",
        "line 3: unknown variable 'ordr'. Did you mean 'order'?",
        "line 4: unknown variable 'shipment.traking_url'. "
        "Did you mean 'shipment.tracking_url'?",
        "line 5: unknown variable 'shipments.first.carier'. "
        "Did you mean 'shipments.first.carrier'?",
        "line 6: unknown variable 'whatever'.",
    ]


def test_lists_are_used_as_lists(db):
    errors = validate_template("shipped", SMS, body_text="{{ shipments.carrier }}")
    assert "'shipments' is a list" in errors["body_text"][0]


def test_unknown_filters_are_named_with_a_suggestion(db):
    errors = validate_template("shipped", EMAIL, subject="{{ order.number | upcse }}")
    assert errors["subject"] == [
        "line 1: unknown filter 'upcse'. Did you mean 'upcase'?"
    ]


def test_parts_the_channel_does_not_use_are_ignored(db):
    errors = validate_template(
        "shipped",
        SMS,
        subject="{% broken",
        body_html="{{ nope }}",
        body_text="{{ order.number }}",
    )
    assert errors == {}


def test_render_against_sample_data_must_succeed(db):
    errors = validate_template(
        "shipped", SMS, body_text="{{ order.total | divided_by: 0 }}"
    )
    assert "sample data" in errors["body_text"][0]


def test_unknown_type_or_channel_is_refused(db):
    errors = validate_template("shiped", EMAIL, subject="x")
    assert errors == {
        "__all__": ["Unknown notification type 'shiped'. Did you mean 'shipped'?"]
    }
    assert "__all__" in validate_template("shipped", ChatChannel("../x"), subject="x")


# Saving, revisions, revert -----------------------------------------------------------


def test_save_validates_and_keeps_revisions(db, staff_user):
    with pytest.raises(TemplateValidationError) as caught:
        save_template("shipped", EMAIL, "en", subject="{{ order.numbr }}")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, OrderUpdatesError)
    assert "order.number" in caught.value.errors["subject"][0]
    assert not NotificationTemplate.objects.exists()

    first = save_template(
        "shipped", EMAIL, "EN", subject="One {{ order.number }}", user=staff_user
    )
    assert (first.language, first.active, first.updated_by) == ("en", True, staff_user)
    second = save_template(
        "shipped", EMAIL, "en", subject="Two {{ order.number }}", comment="shorter"
    )
    assert second.pk == first.pk
    revisions = list(second.revisions.all())
    assert [r.subject for r in revisions] == [
        "Two {{ order.number }}",
        "One {{ order.number }}",
    ]
    assert revisions[0].comment == "shorter"
    assert revisions[1].created_by == staff_user


def test_saving_nothing_is_refused(db):
    with pytest.raises(TemplateValidationError) as caught:
        save_template("shipped", SMS, "en", subject="only for email")
    assert "__all__" in caught.value.errors
    with pytest.raises(TemplateValidationError):
        save_template("shipped", SMS, "not a language", body_text="x")


def test_restore_and_revert(db, staff_user):
    context = sample_context("shipped", "sms")
    save_template("shipped", SMS, "en", body_text="First {{ order.number }}")
    template = save_template("shipped", SMS, "en", body_text="Second")
    first_revision = template.revisions.order_by("pk").first()

    restored = restore_revision(first_revision, SMS, user=staff_user)
    assert restored.body_text == "First {{ order.number }}"
    assert render("shipped", SMS, "en", context)["text"] == "First 1001"
    assert restored.revisions.count() == 3
    assert restored.revisions.first().comment == "Restored revision #%s" % (
        first_revision.pk
    )

    reverted = revert_to_default("shipped", SMS, "en", user=staff_user)
    assert reverted.active is False
    assert reverted.body_text == "First {{ order.number }}"  # kept for restoring
    revert_revision = reverted.revisions.first()
    assert revert_revision.active is False and revert_revision.created_by == staff_user
    assert render("shipped", SMS, "en", context)["text"].startswith("Test Shop: ")
    # Reverting again changes nothing.
    assert revert_to_default("shipped", SMS, "en").revisions.count() == 4
    assert revert_to_default("delivered", SMS, "en") is None

    restore_revision(first_revision, SMS)
    assert render("shipped", SMS, "en", context)["text"] == "First 1001"
    restore_revision(revert_revision, SMS)
    assert NotificationTemplate.objects.get().active is False


def test_restoring_a_revision_that_no_longer_validates_is_refused(db):
    template = save_template("shipped", SMS, "en", body_text="{{ order.number }}")
    revision = template.revisions.get()
    revision.body_text = "{{ order.gone }}"
    revision.save()
    with pytest.raises(TemplateValidationError):
        restore_revision(revision, SMS)


# Preview -----------------------------------------------------------------------------


def test_preview_unsaved_sources_against_sample_or_a_real_order(make_order, ship):
    rendered = preview(
        "shipped",
        EMAIL,
        "en",
        subject="Preview {{ order.number }}",
        body_html="<p style='color: red'>{{ customer.name }}</p>",
    )
    assert rendered["subject"] == "Preview 1001"
    assert "Ada Lovelace" in rendered["html"]
    assert "Good news" in rendered["text"]  # not given: the current template
    assert not NotificationTemplate.objects.exists()

    order = make_order()
    ship(order, message="Wrapped as a gift.")
    rendered = preview(
        "shipped", EMAIL, "de", subject="{{ order.number }}", order=order
    )
    number = build_context(notification_for(order, "shipped", "email"), order)["order"][
        "number"
    ]
    assert rendered["subject"] == number
    assert "Wrapped as a gift." in rendered["html"]
    assert "Unterwegs" in rendered["html"]  # stage labels in the preview's language
    assert "/order-updates/unsubscribe/" in rendered["html"]


def test_preview_of_a_real_order_takes_the_event_that_sends_that_type(make_order, ship):
    order = make_order()
    ship(order, message="Wrapped as a gift.")
    services.report_delivery_issue(order, "delayed", message="Storm at the hub.")
    shipped = preview("shipped", EMAIL, "en", order=order)
    assert "Wrapped as a gift." in shipped["html"]
    assert "Storm" not in shipped["html"] + shipped["text"]
    delayed = preview("delayed", EMAIL, "en", order=order)
    assert "Storm at the hub." in delayed["html"]
    assert "Wrapped as a gift." not in delayed["html"]
    # A type the order never triggered: its data, no event's message.
    held = preview("on_hold", EMAIL, "en", order=order)
    assert "Storm" not in held["html"] and "Wrapped" not in held["html"]


def test_preview_blank_part_shows_the_default(db):
    save_template("shipped", EMAIL, "en", subject="Merchant subject")
    assert preview("shipped", EMAIL, "en")["subject"] == "Merchant subject"
    assert preview("shipped", EMAIL, "en", subject="")["subject"] == (
        "Your order #1001 is on its way"
    )


def test_preview_raises_template_error(db):
    with pytest.raises(TemplateError, match="line 1"):
        preview("shipped", EMAIL, "en", subject="{{ order.number | nope }}")


class _Lookup(dict):
    """A mapping that is not a plain dict: its keys are looked up by Liquid."""


#: Lookups the notification context's fast path answers, and some it leaves to
#: Liquid: locals, loop variables and counters before or behind render
#: arguments, ``size``/``first``/``last``, indexes, nested paths, missing names.
LOOKUPS = [
    "{{ order.number }}/{{ order.customer.name }}",
    '{% assign order = "shadowed" %}{{ order }}',
    "{% capture order %}captured{% endcapture %}{{ order }}",
    "{% for item in order.items %}{{ forloop.index }}:{{ item.name }},{% endfor %}",
    "{% for order in order.items %}{{ order.name }}{% endfor %}{{ order.number }}",
    "{{ order.items.size }} {{ order.items.first.name }} {{ order.items.last.name }}",
    "{{ order.items[0].name }} {{ order.items[-1].name }} {{ order.items[9].name }}",
    "{{ order.size }} {{ order.first }} {{ order.last }}",
    "{{ info.size }} {{ info.first }} {{ info.last }} {{ info.number }}",
    '{% assign key = "number" %}{{ order[key] }} {{ order["customer"].name }}',
    "{{ order.number.size }} {{ order.number.first }} {{ order.missing.deeper }}",
    "{{ missing }}{{ missing.x }}[{{ order.customer.missing }}]",
    "{{ other.number }} {{ other.size }} {{ other.inner.name }}",
    "{% increment visits %}{% increment visits %}{{ visits }}",
    "{% assign visits = 7 %}{% increment visits %}{{ visits }}",
    "{{ order.items | map: 'name' | join: '+' }}",
    "{% if order.customer.name == 'Ann' and order.items.size > 1 %}yes{% endif %}",
    "{% for i in (1..2) %}{% for item in order.items %}{{ i }}{{ item.name }}"
    "{% endfor %}{% endfor %}",
    "{{ now | date: '%Y' }}",
    "{{ nil_value.x }}[{{ nil_value }}]{{ number.x }}",
    "{% if order %}{% for item in order.items %}{% if item.name %}{% render "
    "'email/_message.txt' %}{% endif %}{% endfor %}{% endif %}",
]


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
@pytest.mark.parametrize("source", LOOKUPS)
def test_lookups_give_what_liquid_gives(monkeypatch, source, html):
    """The environment resolves plain dicts its own faster way: the same output
    (or the same error) as python-liquid's own lookups."""
    from liquid import BoundTemplate, RenderContext, StrictUndefined
    from liquid.ast import BlockNode
    from liquid.builtin.expressions import Path

    from order_updates.notifications.templating import limits

    data = {
        "order": {
            "number": "1001",
            "customer": {"name": "Ann"},
            "items": [{"name": "Mug"}, {"name": "Tea <b>"}],
        },
        "info": {"size": "XL", "first": "one", "last": "end", "number": 2},
        "other": _Lookup(number="9", inner={"name": "x"}),
        "nil_value": None,
        "number": 5,
    }

    def results() -> list[str]:
        found = []
        for undefined in (None, StrictUndefined):
            environment = (
                get_environment(html)
                if undefined is None
                else NotificationEnvironment(autoescape=html, undefined=undefined)
            )
            template = environment.from_string(source)
            try:
                found.append(template.render(**data))
            except Exception as exc:
                found.append("%s: %s" % (type(exc).__name__, exc))
        return found

    fast = results()
    monkeypatch.setattr(limits.LimitedContext, "get", RenderContext.get)
    monkeypatch.setattr(limits.PlainPath, "evaluate", Path.evaluate)
    monkeypatch.setattr(
        limits.DirectBlockNode, "render_to_output", BlockNode.render_to_output
    )
    monkeypatch.setattr(
        limits.LimitedTemplate, "make_globals", BoundTemplate.make_globals
    )
    assert fast == results()


def test_paths_without_nested_paths_are_looked_up_as_written():
    from liquid.builtin.expressions import Path

    from order_updates.notifications.templating.limits import (
        PlainPath,
        walk_expressions,
    )

    template = get_environment(False).from_string("{{ order.number }}{{ order[key] }}")
    paths = [
        found
        for node in template.nodes
        for expression in node.expressions()
        for found in walk_expressions(expression)
        if isinstance(found, Path)
    ]
    kinds = sorted((str(path), type(path).__name__) for path in paths)
    assert kinds == [
        ("key", "PlainPath"),
        ("order.number", "PlainPath"),
        ("order[key]", "Path"),
    ]
    assert issubclass(PlainPath, Path)
