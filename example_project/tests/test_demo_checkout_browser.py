"""End to end in a real browser: shop, cart, checkout, and tracking started."""

from decimal import Decimal

import pytest
from order_updates.models import EventKind, OrderEvent, OrderState
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from shop.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def wait(browser, condition, timeout=15):
    return WebDriverWait(browser, timeout).until(condition)


def add_to_cart(browser, live_server, product, expected_count):
    browser.get(live_server.url + "/")
    browser.find_element(By.CSS_SELECTOR, "#product-%s button" % product.slug).click()
    wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "cart-link"), "(%d)" % expected_count),
    )


def fill(browser, label, value):
    """Type into the field that the visible ``label`` names (labels are real)."""
    label_element = browser.find_element(
        By.XPATH, "//label[normalize-space(.)=%r]" % (label + ":")
    )
    field = browser.find_element(By.ID, label_element.get_attribute("for"))
    field.clear()
    field.send_keys(value)
    return field


def status_of(browser):
    """The status label that order_updates' {% order_status %} tag draws."""
    return browser.find_element(By.CSS_SELECTOR, "#order-status [data-status]").text


def place_order(browser, live_server, **fields):
    browser.get(live_server.url + "/cart/")
    browser.find_element(By.ID, "checkout-link").click()
    wait(browser, EC.presence_of_element_located((By.ID, "place-order")))
    for label, value in fields.items():
        fill(browser, label, value)
    browser.find_element(By.ID, "place-order").click()
    wait(browser, EC.presence_of_element_located((By.ID, "order-status")))
    number = browser.find_element(By.ID, "order-number").text
    return Order.objects.get(number=number)


def test_customer_checkout_starts_tracking(browser, live_server, products, alice):
    browser.get(live_server.url + "/accounts/login/")
    browser.find_element(By.ID, "id_username").send_keys("alice")
    browser.find_element(By.ID, "id_password").send_keys("alice-password")
    browser.find_element(By.ID, "login-submit").click()
    wait(browser, EC.url_contains("/orders/"))

    knife, tea, _kettle = products
    add_to_cart(browser, live_server, knife, 1)
    add_to_cart(browser, live_server, tea, 2)

    browser.get(live_server.url + "/checkout/")
    # The cart's money is drawn as the order's pages and emails draw it.
    assert browser.find_element(By.ID, "cart-total").text == "€105.50"
    # Logged-in customers find their email and name filled in.
    assert browser.find_element(By.ID, "id_email").get_attribute("value") == (
        "alice@example.com"
    )
    assert browser.find_element(By.ID, "id_shipping_name").get_attribute("value") == (
        "Alice Schmidt"
    )
    order = place_order(
        browser,
        live_server,
        **{
            "Street and number": "Torstraße 12",
            "Postcode": "10119",
            "City": "Berlin",
            "Phone (optional, for delivery text messages)": "+49 30 12345678",
        },
    )

    assert status_of(browser) == "Placed"
    # One money format on the page, the customer's language's.
    assert browser.find_element(By.ID, "order-total").text == "€105.50"
    assert [
        cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "tr.order-line td")
    ][2:4] == ["€89.00", "€89.00"]
    # A new order is thanked for; the page draws it with order_updates' tags.
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Thank you!")
    assert (
        browser.find_element(
            By.CSS_SELECTOR, ".ou-step[aria-current=step] .ou-step__label"
        ).text
        == "Ordered"
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.order-line")) == 2
    assert browser.find_element(By.ID, "cart-link").text.endswith("(0)")

    assert order.customer == alice
    assert order.email == "alice@example.com"
    assert order.phone.as_e164 == "+493012345678"
    assert order.total == Decimal("105.50")
    assert sorted(order.lines.values_list("product_name", "quantity")) == [
        ("Chef's Knife", 1),
        ("Tea Sampler", 1),
    ]
    state = OrderState.objects.get(order=order)
    assert state.status == "placed"
    assert state.last_sequence == 1
    event = OrderEvent.objects.get(order=order)
    assert event.kind == EventKind.TRACKING_STARTED
    assert event.sequence == 1
    assert event.to_status == "placed"
    assert event.actor_user == alice
    assert event.actor_label == "alice"  # the name outlives the account

    # "My orders" (order_updates' page, at the shop's old address too) lists it
    # with its status.
    browser.get(live_server.url + "/orders/")
    row = browser.find_element(By.ID, "order-%s" % order.number)
    assert row.find_element(By.CSS_SELECTOR, "[data-status]").text == "Placed"
    assert "€105.50" in row.text


def test_guest_checkout_starts_tracking(browser, live_server, products, alice):
    _knife, _tea, kettle = products
    add_to_cart(browser, live_server, kettle, 1)
    order = place_order(
        browser,
        live_server,
        **{
            "Full name": "Chloé Martin",
            "Street and number": "8 rue Oberkampf",
            "Postcode": "75011",
            "City": "Paris",
            "Country code": "FR",
            "Email": "chloe@example.org",
        },
    )

    assert status_of(browser) == "Placed"
    assert order.customer is None
    assert order.email == "chloe@example.org"
    assert order.shipping_country == "FR"
    assert not order.phone
    state = OrderState.objects.get(order=order)
    assert state.status == "placed"
    event = OrderEvent.objects.get(order=order)
    assert event.kind == EventKind.TRACKING_STARTED
    assert event.actor_user is None
    assert event.actor_label == "customer"

    # The confirmation stays visible to the browser that placed it, to nobody else.
    browser.refresh()
    assert status_of(browser) == "Placed"
    browser.delete_all_cookies()
    browser.get(live_server.url + order.get_absolute_url())
    assert not browser.find_elements(By.ID, "order-status")


def test_checkout_form_errors_are_shown(browser, live_server, products):
    add_to_cart(browser, live_server, products[0], 1)
    browser.get(live_server.url + "/checkout/")
    fill(browser, "Email", "not-an-email")
    browser.find_element(By.ID, "place-order").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".errorlist")))
    assert Order.objects.count() == 0
    assert OrderState.objects.count() == 0
