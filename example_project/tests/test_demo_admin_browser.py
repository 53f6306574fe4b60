"""The merchant's order screens in a real browser: status change with its
preview, shipments, notes and the bulk status confirmation, submitted for real
(CSRF included), each screen checked to fit a 1280 px window.

Set ``ORDER_UPDATES_SCREENSHOTS`` to a folder (``../docs/_static``) to keep the
screenshots the merchant guide shows; otherwise they go to a temporary folder.
"""

import datetime
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from order_updates import services
from order_updates.models import EventKind, Notification, OrderEvent, OrderState
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from shop.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def wait(browser, condition, timeout=15):
    return WebDriverWait(browser, timeout).until(condition)


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("ORDER_UPDATES_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(browser, name):
        """Check the page fits the window, then save a screenshot of it."""
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, "%s is %d px wider than the window" % (name, overflow)
        path = folder / ("admin-%s.png" % name)
        browser.save_screenshot(str(path))
        assert path.stat().st_size > 0
        return path

    return take


@pytest.fixture
def merchant(db):
    return get_user_model().objects.create_superuser(
        "mia", "mia@example.com", "mia-password", first_name="Mia"
    )


def make_order(number, email, name):
    order = Order.objects.create(
        number=number,
        email=email,
        shipping_name=name,
        shipping_line1="Torstraße 12",
        shipping_city="Berlin",
        shipping_postcode="10119",
        total=Decimal("105.50"),
    )
    services.start_tracking(order)
    return order


def log_in(browser, live_server):
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys("mia")
    browser.find_element(By.ID, "id_password").send_keys("mia-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # #user-tools is only on pages for a logged-in user (#site-name is on the
    # login page too: waiting for it let the next page load before the login).
    wait(browser, EC.presence_of_element_located((By.ID, "user-tools")))


def success_message(browser):
    return wait(
        browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist"))
    ).text


def test_change_status_with_preview_shipment_and_notes(
    browser, live_server, merchant, shots, products
):
    order = make_order("DS-10001", "chloe@example.org", "Chloé Martin")
    log_in(browser, live_server)

    browser.get(live_server.url + "/admin/shop/order/")
    row = browser.find_element(By.XPATH, "//tr[.//a[text()='DS-10001']]")
    assert "Placed" in row.text
    shots(browser, "order-list")

    row.find_element(By.LINK_TEXT, "DS-10001").click()
    wait(browser, EC.presence_of_element_located((By.ID, "order-updates-panel")))
    assert browser.find_element(By.ID, "order-updates-status").text == "Placed"
    browser.find_element(By.ID, "order-updates-change-status").click()

    # Only the moves the pipeline allows from "placed".
    select = Select(wait(browser, EC.presence_of_element_located((By.ID, "id_status"))))
    assert [option.text for option in select.options] == [
        "Confirmed",
        "Processing",
        "Partially shipped",
        "Shipped",
        "On hold",
        "Cancelled",
    ]
    select.select_by_visible_text("Confirmed")
    browser.find_element(By.ID, "id_message").send_keys("We start packing on Monday.")
    browser.find_element(By.ID, "id_note").send_keys("Paid by bank transfer")
    assert browser.find_element(By.ID, "id_notify").is_selected()
    browser.find_element(By.ID, "order-updates-preview").click()

    summary = wait(
        browser, EC.presence_of_element_located((By.ID, "order-updates-summary"))
    )
    assert "“Placed” to “Confirmed”" in summary.text
    preview = browser.find_element(By.ID, "order-updates-preview-messages")
    assert "chloe@example.org" in preview.text
    assert "Subject:" in preview.text
    # The email as it renders, sandboxed: no script of it runs in the admin.
    frame = preview.find_element(By.TAG_NAME, "iframe")
    assert frame.get_attribute("sandbox") == ""
    assert not OrderEvent.objects.filter(kind=EventKind.STATUS_CHANGED).exists()
    shots(browser, "status-preview")

    browser.find_element(By.ID, "order-updates-confirm").click()
    assert "Confirmed" in success_message(browser)
    assert browser.find_element(By.ID, "order-updates-status").text == "Confirmed"
    event = OrderEvent.objects.get(order=order, kind=EventKind.STATUS_CHANGED)
    assert (event.to_status, event.actor_user) == ("confirmed", merchant)
    assert event.message == "We start packing on Monday."
    assert event.note == "Paid by bank transfer"
    assert Notification.objects.filter(event=event, type="order_confirmed").exists()

    # A note for the customer.
    browser.find_element(By.ID, "order-updates-add-note").click()
    wait(browser, EC.presence_of_element_located((By.ID, "id_text"))).send_keys(
        "Your engraving is done."
    )
    browser.find_element(By.CSS_SELECTOR, "input[value=public]").click()
    shots(browser, "note-form")
    browser.find_element(By.ID, "order-updates-save").click()
    assert "note was added" in success_message(browser)
    note = OrderEvent.objects.get(order=order, kind=EventKind.NOTE)
    assert (note.message, note.actor_user) == ("Your engraving is done.", merchant)

    # A shipment of some of the lines, with every detail, that also moves the
    # order on.
    knife = order.lines.create(
        product=products[0], product_name="Chef's Knife", quantity=2, unit_price=89
    )
    order.lines.create(
        product=products[1], product_name="Tea Sampler", quantity=1, unit_price=16.5
    )
    services.set_status(order, "processing")
    browser.refresh()
    browser.find_element(By.ID, "order-updates-add-shipment").click()
    Select(
        wait(browser, EC.presence_of_element_located((By.ID, "id_carrier")))
    ).select_by_visible_text("Other carrier (type its name)")
    browser.find_element(By.ID, "id_carrier_name").send_keys("Kurier Kowalski")
    browser.find_element(By.ID, "id_service").send_keys("same day")
    browser.find_element(By.ID, "id_tracking_number").send_keys("KK014600006")
    browser.find_element(By.ID, "id_more_tracking_numbers").send_keys(
        "KK014600013\nKK014600020"
    )
    browser.find_element(By.ID, "id_tracking_url").send_keys(
        "https://kurier.example/track?id=KK014600006"
    )
    browser.find_element(By.ID, "id_shipped_at_0").send_keys("2026-11-30")
    browser.find_element(By.ID, "id_shipped_at_1").send_keys("09:15:00")
    browser.find_element(By.ID, "id_item_%s" % knife.pk).send_keys("2")
    browser.find_element(By.ID, "id_estimated_earliest").send_keys("2026-12-02")
    browser.find_element(By.ID, "id_estimated_latest").send_keys("2026-12-04")
    Select(browser.find_element(By.ID, "id_status")).select_by_visible_text("Shipped")
    shots(browser, "shipment-form")
    browser.find_element(By.ID, "order-updates-save").click()
    assert "shipment was added" in success_message(browser)
    assert OrderState.objects.get(order=order).status == "shipped"
    shipment = order.order_updates_shipments.get()
    assert (shipment.carrier, shipment.carrier_name, shipment.service) == (
        "",
        "Kurier Kowalski",
        "same day",
    )
    assert shipment.tracking_number == "KK014600006"
    assert [n.number for n in shipment.more_tracking_numbers.all()] == [
        "KK014600013",
        "KK014600020",
    ]
    assert shipment.items == [{"line": str(knife.pk), "quantity": 2}]
    assert str(shipment.estimated_delivery_from) == "2026-12-02"
    assert str(shipment.estimated_delivery_to) == "2026-12-04"

    # Correct it: a carrier of the registry, the numbers, the tea packed in the
    # same parcel, a later estimate; first with a mistake, which the form shows
    # without losing what was typed.
    browser.find_element(By.LINK_TEXT, "Edit").click()
    Select(
        wait(browser, EC.presence_of_element_located((By.ID, "id_carrier")))
    ).select_by_visible_text("DHL")
    field = browser.find_element(By.ID, "id_tracking_number")
    field.clear()
    field.send_keys("JD014600007")
    field = browser.find_element(By.ID, "id_more_tracking_numbers")
    assert field.get_attribute("value") == "KK014600013\nKK014600020"
    field.clear()
    field.send_keys("JD014600014")
    tea = order.lines.get(product_name="Tea Sampler")
    assert (
        browser.find_element(By.ID, "id_item_%s" % knife.pk).get_attribute("value")
        == "2"
    )
    browser.find_element(By.ID, "id_item_%s" % tea.pk).send_keys("1")
    latest = browser.find_element(By.ID, "id_estimated_latest")
    latest.clear()
    latest.send_keys("2026-12-06")
    browser.find_element(By.ID, "id_note").send_keys("Label reprinted")
    browser.find_element(By.ID, "order-updates-save").click()
    error = wait(
        browser,
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, ".field-carrier_name .errorlist")
        ),
    )
    assert "leave the name empty" in error.text
    assert (
        browser.find_element(By.ID, "id_tracking_number").get_attribute("value")
        == "JD014600007"
    )
    assert (
        browser.find_element(By.ID, "id_more_tracking_numbers").get_attribute("value")
        == "JD014600014"
    )
    browser.find_element(By.ID, "id_carrier_name").clear()
    browser.find_element(By.ID, "order-updates-save").click()
    assert "shipment was changed" in success_message(browser)
    shipment.refresh_from_db()
    assert (shipment.carrier, shipment.carrier_name) == ("dhl", "")
    assert shipment.tracking_number == "JD014600007"
    assert [n.number for n in shipment.more_tracking_numbers.all()] == ["JD014600014"]
    assert shipment.items == [
        {"line": str(knife.pk), "quantity": 2},
        {"line": str(tea.pk), "quantity": 1},
    ]
    assert str(shipment.estimated_delivery_to) == "2026-12-06"
    updated = OrderEvent.objects.get(order=order, kind=EventKind.SHIPMENT_UPDATED)
    assert updated.actor_user == merchant
    # Saved again as it is (its time to the microsecond, as code records it;
    # the form shows seconds): nothing changes, nobody is emailed.
    shipped = (shipment.shipped_at or timezone.now()).replace(microsecond=557000)
    type(shipment).objects.filter(pk=shipment.pk).update(shipped_at=shipped)
    browser.find_element(By.LINK_TEXT, "Edit").click()
    wait(browser, EC.presence_of_element_located((By.ID, "id_carrier")))
    browser.find_element(By.ID, "order-updates-save").click()
    assert "Nothing was changed." in success_message(browser)
    assert (
        OrderEvent.objects.filter(order=order, kind=EventKind.SHIPMENT_UPDATED).count()
        == 1
    )
    shipment.refresh_from_db()
    assert shipment.shipped_at == shipped

    # The progress bar and the shipment's tracking, estimate and latest scan.
    current = browser.find_element(
        By.CSS_SELECTOR, "#order-updates-progress [aria-current=step]"
    )
    assert "On its way" in current.text
    row = browser.find_element(By.CSS_SELECTOR, ".order-updates-shipment")
    assert row.find_element(By.CLASS_NAME, "ou-tracking-status").text == "Pending"
    assert "2026" in row.find_element(By.CLASS_NAME, "ou-estimate").text
    assert row.find_element(By.CLASS_NAME, "ou-latest-scan").text == "-"
    services.record_tracking_events(
        shipment,
        [
            services.Scan(
                occurred_at=shipment.shipped_at + datetime.timedelta(hours=5),
                status="in_transit",
                location="Leipzig hub",
                message="Parcel sorted",
            )
        ],
        notify=False,
    )
    browser.refresh()
    row = browser.find_element(By.CSS_SELECTOR, ".order-updates-shipment")
    assert row.find_element(By.CLASS_NAME, "ou-tracking-status").text == "In transit"
    scan = row.find_element(By.CLASS_NAME, "ou-latest-scan").text
    assert "Leipzig hub" in scan and "Parcel sorted" in scan

    timeline = browser.find_element(By.ID, "order-updates-timeline")
    assert "Shipment updated" in timeline.text
    assert "DHL JD014600007" in timeline.text
    assert "Processing → Shipped" in timeline.text
    assert "mia" in timeline.text
    browser.execute_script("arguments[0].scrollIntoView()", timeline)
    shots(browser, "order-timeline")
    browser.execute_script("window.scrollTo(0, 0)")
    shots(browser, "order-page")


def test_bulk_status_with_confirmation(browser, live_server, merchant, shots):
    orders = [
        make_order("DS-1000%d" % i, "c%d@example.org" % i, "Customer %d" % i)
        for i in range(1, 6)
    ]
    services.set_status(orders[0], "cancelled")
    log_in(browser, live_server)
    browser.get(live_server.url + "/admin/shop/order/")
    for order in orders:
        browser.find_element(
            By.CSS_SELECTOR, "input.action-select[value='%s']" % order.pk
        ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value(
        "order_updates_set_status"
    )
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()

    select = Select(wait(browser, EC.presence_of_element_located((By.ID, "id_status"))))
    assert "5 orders selected." in browser.find_element(By.ID, "content-main").text
    select.select_by_visible_text("Confirmed")
    browser.find_element(By.ID, "id_note").send_keys("Wave 12")
    browser.find_element(By.ID, "order-updates-review").click()

    summary = wait(
        browser, EC.presence_of_element_located((By.ID, "order-updates-bulk-summary"))
    )
    assert summary.text == "4 orders will be set to “Confirmed”."
    skipped = browser.find_element(By.ID, "order-updates-bulk-skipped").text
    assert "An order in status “Cancelled” cannot move to “Confirmed”." in skipped
    assert set(OrderState.objects.values_list("status", flat=True)) == {
        "placed",
        "cancelled",
    }
    shots(browser, "bulk-review")

    browser.find_element(By.ID, "order-updates-confirm").click()
    message = success_message(browser)
    assert "4 orders set to “Confirmed”." in message
    assert "1 order left unchanged" in message
    changed = OrderEvent.objects.filter(kind=EventKind.STATUS_CHANGED, note="Wave 12")
    assert changed.count() == 4
    assert {event.actor_user for event in changed} == {merchant}
