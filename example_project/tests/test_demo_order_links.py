"""The order page that notifications link to, and SMS consent at checkout."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from order_updates.core.adapter import get_adapter
from order_updates.models import Notification
from order_updates.notifications.preferences import preference_for

from shop.access import order_page_path
from shop.models import Product
from shop.orders import place_order

pytestmark = pytest.mark.django_db

ADDRESS = {
    "shipping_name": "Grace Guest",
    "shipping_line1": "Main St 1",
    "shipping_postcode": "10115",
    "shipping_city": "Berlin",
}


def order_for(customer=None, **fields):
    product = Product.objects.create(name="Tea", slug="tea", price=Decimal("16.50"))
    return place_order(
        [(product, 1)],
        customer=customer,
        email=customer.email if customer else "grace@example.org",
        **ADDRESS,
        **fields,
    )


def test_a_guests_link_opens_the_order_page_in_any_browser(client):
    order = order_for()
    url = get_adapter().get_order_url(order)
    assert url.startswith("http://127.0.0.1:8000/orders/%s/?key=" % order.number)
    parts = urlsplit(url)

    assert client.get("%s?%s" % (parts.path, parts.query)).status_code == 200
    # The browser remembers it: no key needed any more.
    assert client.get(parts.path).status_code == 200


@pytest.mark.parametrize("key", ["", "forged", "1xWqhl:bad-signature"])
def test_without_a_valid_key_a_guests_order_is_not_found(client, key):
    order = order_for()
    assert client.get(order.get_absolute_url(), {"key": key}).status_code == 404


def test_a_customers_link_asks_to_log_in(client, alice, bob):
    order = order_for(alice)
    url = get_adapter().get_order_url(order)
    assert url == "http://127.0.0.1:8000" + order_page_path(order)

    response = client.get(order.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/orders/%s/" % order.number
    # A guest's kind of key does not open a customer's order.
    keyed = order_page_path(order, with_key=True)
    assert client.get(keyed).status_code == 302
    client.force_login(bob)
    assert client.get(keyed).status_code == 404
    client.force_login(alice)
    assert client.get(order.get_absolute_url()).status_code == 200


def test_checkout_records_sms_consent_before_the_first_message(client, products):
    client.post("/cart/add/%s/" % products[0].pk)
    form = {**ADDRESS, "shipping_country": "DE", "email": "grace@example.org"}

    response = client.post("/checkout/", {**form, "sms_updates": "on"})
    assert response.status_code == 200  # a phone number is needed for texts
    assert "Enter a phone number to get text messages." in response.content.decode()

    response = client.post(
        "/checkout/", {**form, "phone": "+49 30 7654321", "sms_updates": "on"}
    )
    assert response.status_code == 302
    assert preference_for(email="grace@example.org").sms_consent_at is not None
    assert set(Notification.objects.values_list("channel", "recipient")) == {
        ("email", "grace@example.org"),
        ("sms", "+49307654321"),
    }


def test_checkout_without_consent_sends_no_text(client, products):
    client.post("/cart/add/%s/" % products[0].pk)
    response = client.post(
        "/checkout/",
        {
            **ADDRESS,
            "shipping_country": "DE",
            "email": "grace@example.org",
            "phone": "+49 30 7654321",
        },
    )
    assert response.status_code == 302
    assert list(Notification.objects.values_list("channel", flat=True)) == ["email"]
