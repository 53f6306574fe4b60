"""order_updates' customer pages in a real browser, in the demo shop's layout.

Every form of the pages is submitted here: the lookup form (found, not found,
rate-limited), the preferences form and the unsubscribe button. Each page is
checked with axe-core and kept as screenshots at 360 px and 1280 px
(``example_project/var/screenshots/``).
"""

import datetime
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from order_updates import services
from order_updates.models import Notification, NotificationPreference
from order_updates.notifications import delivery
from order_updates.notifications.links import make_token
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from shop.orders import place_order

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = {
    "shipping_name": "Grace Guest",
    "shipping_line1": "Main St 1",
    "shipping_postcode": "10115",
    "shipping_city": "Berlin",
}
UPS = "https://www.ups.com/track?tracknum=1Z999AA10123456784"


@pytest.fixture(autouse=True)
def _quick_messages(settings):
    """Messages are due at once (the demo waits 10 s), and the lookup's attempt
    counters start afresh."""
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "COALESCE_SECONDS": 0}
    cache.clear()
    yield
    cache.clear()


def wait(browser, condition, timeout=15):
    return WebDriverWait(browser, timeout).until(condition)


def order_for(products, customer=None, email="grace@example.org", **fields):
    return place_order(
        [(products[0], 1), (products[1], 2)],
        customer=customer,
        email=customer.email if customer else email,
        **{**ADDRESS, **fields},
    )


def ship(order, *, scan=False):
    """Ship the whole order by UPS; with ``scan``, the carrier reports a scan
    and an estimated delivery."""
    services.set_status(order, "processing")
    shipment = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        tracking_url=UPS,
        status="shipped",
        message="Your parcel left our warehouse.",
    )
    if scan:
        services.record_tracking_events(
            shipment,
            [
                services.Scan(
                    occurred_at=timezone.now() - datetime.timedelta(hours=2),
                    status="in_transit",
                    location="Leipzig hub",
                    message="Parcel sorted for delivery",
                )
            ],
            estimate=services.Estimate(
                datetime.date(2026, 12, 2), datetime.date(2026, 12, 3)
            ),
            notify=False,
        )
    return shipment


def log_in(browser, live_server, username, password):
    browser.get(live_server.url + "/accounts/login/")
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password)
    browser.find_element(By.ID, "login-submit").click()
    wait(browser, EC.url_contains("/order-updates/orders/"))


def path_of(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def test_my_orders_and_the_order_page(
    browser, live_server, products, alice, bob, check_accessibility, screenshot
):
    delivered = order_for(products, alice)
    ship(delivered)
    services.set_status(delivered, "delivered")
    shipped = order_for(products, alice)
    ship(shipped, scan=True)
    services.report_delivery_issue(
        shipped, "exception", message="Nobody was home. The parcel is at the depot."
    )
    services.add_note(shipped, "Staff only: call the carrier", public=False)
    placed = order_for(products, alice)
    bobs = order_for(products, bob)

    log_in(browser, live_server, "alice", "alice-password")
    # The demo's layout (its header and navigation) around order_updates' page.
    assert browser.find_element(By.CSS_SELECTOR, "header .brand").text == "Demo Shop"
    assert browser.find_element(By.TAG_NAME, "h1").text == "My orders"
    rows = browser.find_elements(By.CSS_SELECTOR, "li.ou-order")
    assert [row.get_attribute("id") for row in rows] == [
        "order-%s" % order.number for order in (placed, shipped, delivered)
    ]
    assert not browser.find_elements(By.ID, "order-%s" % bobs.number)
    shipped_row = browser.find_element(By.ID, "order-%s" % shipped.number)
    assert shipped_row.find_element(By.CSS_SELECTOR, "[data-status]").text == "Shipped"
    assert "€122.00" in shipped_row.text
    estimate = shipped_row.find_element(By.CLASS_NAME, "ou-order__estimate").text
    assert estimate == "Estimated delivery: between Dec. 2, 2026 and Dec. 3, 2026"
    check_accessibility("my orders")
    screenshot("my-orders")

    # The completed filter, by a link (no JavaScript).
    browser.find_element(By.LINK_TEXT, "Completed").click()
    wait(browser, EC.url_contains("show=completed"))
    rows = browser.find_elements(By.CSS_SELECTOR, "li.ou-order")
    assert [row.get_attribute("id") for row in rows] == ["order-%s" % delivered.number]
    current = browser.find_element(By.CSS_SELECTOR, ".ou-filters [aria-current=page]")
    assert current.text == "Completed"

    # The order page: stepper, what to do about the failed delivery, the parcel.
    browser.find_element(By.LINK_TEXT, "Open").click()
    wait(browser, EC.url_contains("show=open"))
    browser.find_element(By.LINK_TEXT, "Order %s" % shipped.number).click()
    wait(browser, EC.presence_of_element_located((By.CLASS_NAME, "ou-steps")))
    step = browser.find_element(
        By.CSS_SELECTOR, ".ou-step[aria-current=step] .ou-step__label"
    )
    assert step.text == "On its way"
    alert = browser.find_element(By.CSS_SELECTOR, ".ou-attention[role=alert]")
    assert "Nobody was home" in alert.text
    parcel = browser.find_element(By.CLASS_NAME, "ou-shipment")
    assert "1Z999AA10123456784" in parcel.text
    link = parcel.find_element(By.CLASS_NAME, "ou-shipment__link")
    assert link.get_attribute("href") == UPS
    # What the carrier reported: where the parcel is, when it should arrive,
    # its scans.
    assert parcel.find_element(By.CLASS_NAME, "ou-shipment__status").text == (
        "In transit"
    )
    assert "between Dec. 2, 2026 and Dec. 3, 2026" in parcel.text
    (scan,) = parcel.find_elements(By.CLASS_NAME, "ou-scan")
    assert "Leipzig hub" in scan.text and "Parcel sorted for delivery" in scan.text
    assert "In this parcel" not in parcel.text  # the whole order
    timeline = browser.find_element(By.CLASS_NAME, "ou-timeline").text
    assert "Your parcel left our warehouse." in timeline
    assert "Staff only" not in browser.page_source
    assert "Chef's Knife" in browser.find_element(By.CLASS_NAME, "ou-items").text
    check_accessibility("order page")
    screenshot("order-page")

    # Another customer's order: not found.
    browser.get(live_server.url + "/order-updates/orders/%s/" % bobs.number)
    assert "Not Found" in browser.page_source
    assert not browser.find_elements(By.CLASS_NAME, "ou-steps")


def test_the_tracking_link_from_an_email(
    browser, live_server, products, check_accessibility, screenshot
):
    order = order_for(products)
    ship(order, scan=True)
    row = Notification.objects.get(order_id=order.pk, type="shipped", channel="email")
    mail.outbox = []
    assert delivery.deliver(row.pk) == delivery.SENT
    (message,) = mail.outbox
    link = re.search(r"Track your order: (\S+)", message.body).group(1)
    assert "/order-updates/track/" in link
    html = message.alternatives[0][0]
    assert 'href="%s"' % link in html

    browser.get(live_server.url + path_of(link))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Order %s" % order.number
    assert "1Z999AA10123456784" in browser.page_source
    scan = browser.find_element(By.CLASS_NAME, "ou-scan").text
    assert "Leipzig hub" in scan and "Parcel sorted for delivery" in scan
    # Minimal personal data: no name, address or email.
    body = browser.find_element(By.TAG_NAME, "body").text
    for private in ("Grace Guest", "Main St 1", "grace@example.org", "10115"):
        assert private not in body
    check_accessibility("tracking page")
    screenshot("tracking-page")

    # Staff revoke the order's links: the emailed one leads nowhere.
    services.revoke_tracking_links(order)
    browser.get(live_server.url + path_of(link))
    assert not browser.find_elements(By.CLASS_NAME, "ou-steps")
    assert "Not Found" in browser.page_source


#: A signed tracking page (the lookup form itself is /order-updates/track/).
TRACKING_URL = r"/order-updates/track/[\w~-]+\.\w+\.\w+\.[\w-]+/$"


def submit_lookup(browser, live_server, number, secret_label, secret):
    """Fill in the lookup form by its labels, as a keyboard user would, send it
    and wait for the answer; returns the type of the field labelled
    ``secret_label``.
    """
    browser.get(live_server.url + "/order-updates/track/")
    browser.find_element(By.XPATH, "//label[.='Order number:']").click()
    browser.switch_to.active_element.send_keys(number)
    browser.find_element(By.XPATH, "//label[.='%s']" % secret_label).click()
    field = browser.switch_to.active_element
    kind = field.get_attribute("type")
    field.send_keys(secret)
    browser.execute_script("window.lookupSubmitted = true")
    browser.find_element(By.ID, "lookup-submit").click()
    # The answer is a new page: loaded once the old page's mark is gone. (Asking
    # an element of the old page whether it is stale can fail while Chromium
    # swaps the pages: "Node with given id does not belong to the document".)
    WebDriverWait(browser, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script(
            "return !window.lookupSubmitted && document.readyState === 'complete'"
        )
    )
    return kind


def test_the_lookup_form(
    browser, live_server, products, settings, check_accessibility, screenshot
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "LOOKUP_MAX_ATTEMPTS_PER_ORDER": 2,
    }
    order = order_for(products, email="Grace@Example.org")
    ship(order)

    def submit(number, secret):
        submit_lookup(
            browser,
            live_server,
            number,
            "Email address or delivery postcode:",
            secret,
        )

    browser.get(live_server.url + "/order-updates/track/")
    # The demo maps shipping_postcode: the form offers it.
    assert (
        "or your delivery postcode." in browser.find_element(By.TAG_NAME, "main").text
    )
    check_accessibility("lookup form")
    screenshot("lookup-form")

    # Not found: the same answer whether the order is unknown or the email wrong.
    submit("DS-99999", "grace@example.org")
    unknown = browser.find_element(By.ID, "lookup-not-found").text
    submit(order.number, "someone@example.org")
    wrong = browser.find_element(By.ID, "lookup-not-found").text
    assert unknown == wrong
    assert "could not find an order" in wrong
    check_accessibility("lookup not found")
    screenshot("lookup-not-found")

    # Found (any case), by email, then by postcode: the tracking page.
    submit(order.number.lower(), "GRACE@example.ORG")
    wait(browser, EC.url_matches(TRACKING_URL))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Order %s" % order.number

    # A third attempt on this order number is refused, even with the postcode.
    submit(order.number, "10115")
    limited = browser.find_element(By.ID, "lookup-limited")
    assert "Too many attempts" in limited.text
    check_accessibility("lookup rate-limited")
    screenshot("lookup-rate-limited")
    other = order_for(products, email="max@example.org")
    ship(other)
    submit(other.number, "10115")
    wait(browser, EC.url_matches(TRACKING_URL))


def test_the_lookup_form_without_a_postcode(browser, live_server, products, settings):
    """A shop that has no postcode mapped: the form asks for the email address
    only, in an email field that still submits whatever is typed.
    """
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {
            **settings.ORDER_UPDATES["ORDER_FIELDS"],
            "shipping_postcode": None,
        },
    }
    order = order_for(products)
    ship(order)

    def submit(secret):
        kind = submit_lookup(
            browser, live_server, order.number, "Email address:", secret
        )
        assert kind == "email"

    submit("10115")
    not_found = browser.find_element(By.ID, "lookup-not-found").text
    assert not_found.endswith("the order number and the email address.")
    assert "postcode" not in browser.find_element(By.TAG_NAME, "main").text
    submit("grace@example.org")
    wait(browser, EC.url_matches(TRACKING_URL))


def test_preferences_and_unsubscribe_forms_submit_in_chromium(
    browser, live_server, products, alice, check_accessibility, screenshot
):
    """The forms that once answered 403 (Origin: null) in Chromium."""
    token = make_token(user_id=alice.pk)
    browser.get(live_server.url + "/order-updates/preferences/%s/" % token)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Notification preferences"
    check_accessibility("preferences")
    screenshot("preferences")
    # Text messages for shipping updates: consent is needed.
    browser.find_element(By.CSS_SELECTOR, "input[name=shipping][value=sms]").click()
    zone = browser.find_element(By.ID, "id_timezone")
    groups = [
        group.get_attribute("label")
        for group in zone.find_elements(By.TAG_NAME, "optgroup")
    ]
    assert "Europe" in groups
    assert not zone.find_elements(By.CSS_SELECTOR, "option[value=Factory]")
    zone.find_element(By.CSS_SELECTOR, "option[value='Europe/Paris']").click()
    browser.find_element(By.ID, "preferences-submit").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".errorlist")))
    assert "please agree" in browser.find_element(By.CSS_SELECTOR, ".errorlist").text
    browser.find_element(By.ID, "id_sms_consent").click()
    browser.find_element(By.ID, "preferences-submit").click()
    wait(browser, EC.presence_of_element_located((By.ID, "preferences-saved")))
    assert "403" not in browser.title
    preference = NotificationPreference.objects.get(user=alice)
    assert preference.timezone == "Europe/Paris"
    assert preference.sms_consent_at is not None
    assert preference.channels == {"order": ["email"], "shipping": ["email", "sms"]}
    screenshot("preferences-saved")

    # One click from the email's footer: the confirmation page, then its button.
    token = make_token(user_id=alice.pk, channel="email")
    browser.get(live_server.url + "/order-updates/unsubscribe/%s/" % token)
    check_accessibility("unsubscribe")
    screenshot("unsubscribe")
    browser.find_element(By.ID, "unsubscribe-submit").click()
    wait(browser, EC.presence_of_element_located((By.ID, "unsubscribed")))
    assert browser.find_element(By.TAG_NAME, "h1").text == "You are unsubscribed"
    preference.refresh_from_db()
    # Email is off everywhere; the texts chosen above stay.
    assert preference.channels == {"order": [], "shipping": ["sms"]}
    check_accessibility("unsubscribed")


def test_order_page_of_the_demo_uses_the_tags_and_does_not_thank_old_orders(
    client, products, alice
):
    import datetime

    from django.utils import timezone

    old = order_for(
        products, alice, placed_at=timezone.now() - datetime.timedelta(days=30)
    )
    ship(old)
    services.set_status(old, "delivered")
    new = order_for(products, alice)
    client.force_login(alice)
    old_page = client.get(old.get_absolute_url()).content.decode()
    new_page = client.get(new.get_absolute_url()).content.decode()
    assert "Thank you!" not in old_page and "Thank you!" in new_page
    assert 'data-status="delivered"' in old_page
    assert "ou-steps" in old_page and "ou-timeline" in old_page
    assert "1Z999AA10123456784" in old_page
    assert old.total == Decimal("122.00")
    assert "€122.00" in old_page
