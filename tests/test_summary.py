"""What customers read about their order: a summary that adds up, sections left
out when their data is missing, one language per message, and the checks that
warn a developer before a customer sees anything wrong.
"""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.checks import run_checks

from order_updates import services
from order_updates.checks import check_message_fields
from order_updates.models import Notification
from order_updates.notifications import delivery
from order_updates.notifications.channels import get_channel
from order_updates.notifications.templating import preview
from order_updates.notifications.types import get_notification_types
from tests.summary import adds_up, parse_summary

LANGUAGES = ["en", "de", "fr"]
EMAIL_TYPES = sorted(get_notification_types())


@pytest.fixture
def shipped_order(make_order, settings):
    """2 mugs (£20.00) and tea (£22.50), £4.90 shipping; plainshop also takes
    £5.00 off (customershop has no discount field).
    """
    if settings.TEST_SHOP == "plainshop":
        order = make_order(
            shipping_total=Decimal("4.90"),
            discount_total=Decimal("5.00"),
            shipping_address="Ada Lovelace\n12 St James's Square\nLondon",
        )
        order.total = Decimal("42.40")
    else:
        order = make_order(shipping_fee=Decimal("4.90"))
        order.customer.address = "Ada Lovelace\n12 St James's Square\nLondon"
        order.customer.save()
        order.amount = Decimal("47.40")
    order.save()
    services.start_tracking(order)
    return order


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("type_code", EMAIL_TYPES)
def test_every_default_email_has_a_summary_that_adds_up(
    shipped_order, type_code, language, settings
):
    rendered = preview(type_code, get_channel("email"), language, order=shipped_order)
    summary = parse_summary(rendered["text"], language)
    assert summary["lines"] == [Decimal("20.00"), Decimal("22.50")], rendered["text"]
    assert summary["shipping"] == Decimal("4.90")
    if settings.TEST_SHOP == "plainshop":
        assert summary["discount"] == Decimal("-5.00")
        assert summary["total"] == Decimal("42.40")
    else:
        assert "discount" not in summary
        assert summary["total"] == Decimal("47.40")
    assert summary["subtotal"] == Decimal("42.50")
    assert adds_up(summary)
    html = rendered["html"]
    assert html.count('class="item"') == 2
    assert 'class="shipping"' in html and 'class="total"' in html
    # Every amount in the right-hand column (the styles are inlined).
    amounts = re.findall(r'<td class="price"( style="[^"]*")?>', html)
    assert len(amounts) >= 5 and all("text-align: right" in a for a in amounts)


def test_a_price_mapped_as_a_line_total_is_not_multiplied(make_order, settings):
    """The mistake of the issue: a line total mapped where a unit price goes."""
    if settings.TEST_SHOP == "plainshop":
        settings.ORDER_UPDATES = {
            **settings.ORDER_UPDATES,
            "ITEM_FIELDS": {"line_total": "price", "unit_price": None},
        }
    order = make_order()
    text = preview("shipped", get_channel("email"), "en", order=order)["text"]
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    if settings.TEST_SHOP == "plainshop":  # "price" now means the whole line
        assert lines == ["- Mug x 2: €10.00", "- Tea x 1: €22.50"]
    else:  # customershop maps its line totals
        assert lines == ["- Mug x 2: 20.00", "- Tea x 1: 22.50"]


def test_tax_is_added_or_shown_as_included_as_the_figures_say(make_order, settings):
    if settings.TEST_SHOP != "plainshop":
        pytest.skip("plainshop has the fields to map here")
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {**settings.ORDER_UPDATES["ORDER_FIELDS"], "tax": "tax"},
    }
    order = make_order()
    order.tax = Decimal("8.50")  # a property-like attribute the path reads
    order.total = Decimal("51.00")  # 42.50 + tax
    added = parse_summary(
        preview("shipped", get_channel("email"), "en", order=order)["text"], "en"
    )
    assert added["tax"] == Decimal("8.50") and adds_up(added)
    order.total = Decimal("42.50")  # tax already in the prices
    included = parse_summary(
        preview("shipped", get_channel("email"), "en", order=order)["text"], "en"
    )
    assert "tax" not in included and included["tax_included"] == Decimal("8.50")
    assert adds_up(included)


def test_figures_that_do_not_add_up_are_logged(make_order, caplog, settings):
    order = make_order()
    total = "total" if settings.TEST_SHOP == "plainshop" else "amount"
    setattr(order, total, Decimal("99.00"))
    preview("shipped", get_channel("email"), "en", order=order)
    assert "do not add up" in caplog.text and "line_total" in caplog.text


# Missing data: sections are left out ------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_sections_without_data_are_left_out(make_order, settings, language):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {
            **settings.ORDER_UPDATES["ORDER_FIELDS"],
            "items": None,
            "total": None,
            "created": None,
            "shipping_address": None,
            "shipping": None,
        },
    }
    order = make_order()
    services.start_tracking(order)
    rendered = preview("shipped", get_channel("email"), language, order=order)
    html, text = rendered["html"], rendered["text"]
    assert "section-title" not in html
    assert 'class="placed"' not in html and 'class="total"' not in html
    for label in ("Order summary", "Ihre Bestellung im Überblick", "Récapitulatif"):
        assert label not in text and label not in html
    assert not re.search(r"^(Total|Gesamtsumme) ?:", text, re.MULTILINE)


# One language per message -----------------------------------------------------------


def deliver(order, language):
    """Track ``order`` and send its "order received" email through delivery."""
    services.start_tracking(order)
    Notification.objects.update(language=language)
    delivery.deliver_batch(list(Notification.objects.values_list("pk", flat=True)))
    [message] = mail.outbox
    return message.body, message.alternatives[0][0]


def test_a_language_without_templates_gets_a_consistent_english_message(make_order):
    text, html = deliver(make_order(language="it"), "it")
    assert text.startswith("Hi ")
    assert '<html lang="en">' in html
    assert "€20.00" in html or "20.00" in html  # English number format
    assert "20,00" not in html


def test_the_shops_language_comes_before_english(make_order, settings):
    settings.LANGUAGE_CODE = "de"
    text, html = deliver(make_order(language="it"), "it")
    assert text.startswith("Hallo ")
    assert '<html lang="de">' in html
    assert "20,00" in html and "20.00" not in html


def test_a_regional_language_reads_its_base_languages_templates(make_order):
    text, html = deliver(make_order(language="de-at"), "de-at")
    assert text.startswith("Hallo ")
    # Written in the shop's language (Django's LANGUAGES has no de-at): its
    # links' /de/ prefix is one i18n_patterns serves.
    assert '<html lang="de">' in html
    assert "20,00" in html


def test_a_merchant_template_makes_a_language_available(make_order):
    from order_updates.models import NotificationTemplate

    NotificationTemplate.objects.create(
        type="order_received",
        channel="email",
        language="it",
        subject="Grazie per il tuo ordine {{ order.number }}",
        body_text="Ciao {{ customer.name }}, totale {{ order.total | money }}",
        active=True,
    )
    text, _html = deliver(make_order(language="it"), "it")
    assert text.startswith("Ciao ")
    assert mail.outbox[0].subject.startswith("Grazie")
    assert "42,50" in text  # Italian number format, as the text is Italian


# Checks -----------------------------------------------------------------------------


def ids(messages):
    return [message.id for message in messages]


def test_the_test_shops_pass_the_checks():
    assert [m for m in run_checks() if m.id.startswith("order_updates")] == []


@pytest.mark.parametrize("model", ["plainshop.Order", "customershop.Purchase"])
def test_quickstart_settings_on_a_shop_with_other_names_warn(settings, model):
    """Only the quickstart's settings: what the adapter cannot find is named."""
    settings.ORDER_UPDATES_ORDER_MODEL = model
    settings.ORDER_UPDATES = {"SITE_URL": "https://shop.example.com"}
    messages = check_message_fields()
    if model == "plainshop.Order":
        # Its fields have the conventional names ("lines" is one for items).
        assert messages == []
        return
    [fields, account, items] = messages
    assert fields.id == "order_updates.W020"
    assert (
        "the total, shipping_address, shipping, email of customershop.Purchase"
        in fields.msg
    )
    assert "shipping (tried: shipping_total)" in fields.hint
    assert account.id == "order_updates.W029"
    assert "account (user) of customershop.Purchase" in account.msg
    assert "'customer__user'" in account.hint
    assert "ORDER_FIELDS" in fields.hint and "total (tried: total)" in fields.hint
    assert items.id == "order_updates.W021"
    assert "quantity" in items.msg and "customershop.PurchaseItem" in items.msg
    assert "'unit_price' is the price of one unit" in items.hint


def test_keys_set_to_none_are_a_choice_not_a_warning(settings):
    settings.ORDER_UPDATES_ORDER_MODEL = "customershop.Purchase"
    settings.ORDER_UPDATES = {
        "ORDER_FIELDS": {
            "total": None,
            "email": "customer__email",
            "items": None,
            "shipping_address": None,
            "shipping": None,
            "user": None,  # guests only
        },
    }
    assert check_message_fields() == []


def test_price_is_ambiguous(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ITEM_FIELDS": {"price": "price"},
    }
    messages = [m for m in check_message_fields() if m.id == "order_updates.W022"]
    [message] = messages
    assert "'unit_price'" in message.hint and "'line_total'" in message.hint


def test_an_item_path_that_does_not_exist_is_an_error(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ITEM_FIELDS": {"line_total": "totl"},
    }
    [error] = [m for m in check_message_fields() if m.id == "order_updates.E006"]
    assert "'totl'" in error.msg
