"""manage.py order_updates_preview ORDER_NUMBER TYPE: a real order's message."""

import io

import pytest
from django.core.management import CommandError, call_command

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.models import Notification


def run(*args):
    out = io.StringIO()
    call_command("order_updates_preview", *args, stdout=out)
    return out.getvalue()


def test_prints_each_part_of_the_real_orders_message(order):
    services.start_tracking(order)
    number = get_adapter().get_number(order)
    output = run(number, "order_received")
    assert output.startswith("order_received email about order %s, in 'en'" % number)
    assert "--- subject ---\nThanks for your order #%s" % number in output
    assert "- Mug x 2" in output and "--- html ---" in output
    assert not Notification.objects.exclude(type="order_received").exists()


def test_one_part_and_the_language_actually_used(make_order):
    order = make_order(language="it")
    number = get_adapter().get_number(order)
    output = run(number, "shipped")
    assert "in 'en' (no templates in 'it')" in output
    assert run(number, "shipped", "--language", "de", "--part", "subject") == (
        "Ihre Bestellung Nr. %s ist unterwegs\n" % number
    )


def test_the_language_is_one_the_shop_offers(make_order, settings):
    settings.LANGUAGES = [("en", "English"), ("de", "German")]
    order = make_order(language="de-DE")
    number = get_adapter().get_number(order)
    assert "in 'de' ('de-DE' is not in LANGUAGES)" in run(number, "shipped")
    output = run(number, "shipped", "--language", "fr")
    assert "in 'en' ('fr' is not in LANGUAGES)" in output
    assert "Your order #%s is on its way" % number in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "shipped"), "There is no order numbered 'nope'."),
        (("{number}", "shiped"), "Unknown notification type 'shiped'. Known types:"),
        (("{number}", "shipped", "--channel", "fax"), "'fax'"),
    ],
)
def test_bad_arguments_are_clear_errors(order, args, message):
    number = get_adapter().get_number(order)
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(*[arg.format(number=number) for arg in args])
