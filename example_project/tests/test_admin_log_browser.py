"""The notification log and its dashboard in a real browser: cancel, re-send,
the HTML email in its sandbox, the dashboard's links; each form submitted.
"""

import datetime
from decimal import Decimal

import pytest
from admin_browser import admin_login, fits_and_snap, message_texts, wait
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from order_updates.conf import app_settings
from order_updates.models import Notification, NotificationState
from order_updates.notifications import delivery
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from shop.models import Product
from shop.orders import place_order

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = {
    "shipping_name": "Grace Guest",
    "shipping_line1": "Main St 1",
    "shipping_postcode": "10115",
    "shipping_city": "Berlin",
}


@pytest.fixture
def merchant(db):
    return get_user_model().objects.create_superuser(
        "merchant", "merchant@example.com", "merchant-password"
    )


def email_row(email):
    product, _ = Product.objects.get_or_create(
        slug="tea", defaults={"name": "Tea", "price": Decimal("16.50")}
    )
    order = place_order([(product, 1)], email=email, **ADDRESS)
    row = Notification.objects.get(order_id=order.pk, channel="email")
    # Due now (the demo waits COALESCE_SECONDS before the first message).
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    return row


@pytest.fixture
def rows(settings):
    sent = email_row("sent@example.org")
    assert delivery.deliver(sent.pk) == delivery.SENT
    # A real failure: nothing listens on port 9, and this was the last attempt.
    failed = email_row("failed@example.org")
    Notification.objects.filter(pk=failed.pk).update(
        attempts=app_settings.MAX_ATTEMPTS - 1
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    assert delivery.deliver(failed.pk) == delivery.FAILED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    pending = email_row("pending@example.org")
    Notification.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=2),
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=15),
    )
    return {
        name: Notification.objects.get(pk=row.pk)
        for name, row in [("sent", sent), ("failed", failed), ("pending", pending)]
    }


def log_url(live_server, query=""):
    return live_server.url + "/admin/order_updates/notification/" + query


def test_the_log_cancel_and_resend(browser, live_server, merchant, rows):
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(log_url(live_server))
    table = browser.find_element(By.ID, "result_list")
    # Labels, not codes.
    assert "Order received" in table.text and "order_received" not in table.text
    assert "Failed" in table.text and "Pending" in table.text
    assert "Email" in table.text
    fits_and_snap(browser, "admin-notification-log")

    # Cancel the pending one and, by mistake, the sent one, with the list action.
    for name in ("pending", "sent"):
        browser.find_element(
            By.CSS_SELECTOR, "input[name=_selected_action][value='%d']" % rows[name].pk
        ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("cancel_selected")
    browser.find_element(By.NAME, "index").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    texts = message_texts(browser)
    assert "1 notification cancelled: it will not be sent." in texts
    assert "1 notification was not cancelled: already sent (1)." in texts
    assert Notification.objects.get(pk=rows["pending"].pk).state == "skipped"

    # Re-send with the list action: the failed row goes, the sent one is explained.
    for name in ("failed", "sent"):
        browser.find_element(
            By.CSS_SELECTOR, "input[name=_selected_action][value='%d']" % rows[name].pk
        ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("resend_selected")
    browser.find_element(By.NAME, "index").click()
    wait(browser, lambda b: "1 notification queued again." in message_texts(b))
    assert "1 notification was not sent again: already sent (1)." in message_texts(
        browser
    )
    assert Notification.objects.get(pk=rows["failed"].pk).state == "pending"
    # Fail it again for real, to re-send it from its page.
    Notification.objects.filter(pk=rows["failed"].pk).update(
        attempts=app_settings.MAX_ATTEMPTS - 1
    )
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=9,
    ):
        assert delivery.deliver(rows["failed"].pk) == delivery.FAILED

    # Re-send the failed one from its page: its error is shown, nothing editable.
    browser.get(log_url(live_server, "%d/change/" % rows["failed"].pk))
    assert "ConnectionRefusedError" in browser.page_source or (
        "Connection refused" in browser.page_source
    )
    assert not browser.find_elements(By.NAME, "_save")
    assert not browser.find_elements(By.CSS_SELECTOR, ".deletelink")
    browser.find_element(By.ID, "ou-resend").click()
    wait(browser, lambda b: "1 notification queued again." in message_texts(b))
    row = Notification.objects.get(pk=rows["failed"].pk)
    assert (row.state, row.attempts) == (NotificationState.PENDING, 0)
    # Pending again: it can be cancelled instead.
    browser.get(log_url(live_server, "%d/change/" % rows["failed"].pk))
    assert not browser.find_elements(By.ID, "ou-resend")
    browser.find_element(By.ID, "ou-cancel").click()
    wait(browser, lambda b: "1 notification cancelled" in " ".join(message_texts(b)))


def test_the_sent_email_renders_in_a_sandbox(browser, live_server, merchant, rows):
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(log_url(live_server, "%d/change/" % rows["sent"].pk))
    frame = browser.find_element(By.ID, "ou-email-frame")
    assert frame.get_attribute("sandbox") == ""
    assert (
        browser.execute_script(
            "return document.getElementById('ou-email-frame').contentDocument"
        )
        is None
    )
    browser.switch_to.frame(frame)
    try:
        body = wait(browser, EC.presence_of_element_located((By.TAG_NAME, "body")))
        wait(browser, lambda b: "Grace" in body.text)
        assert "<table" not in body.text  # rendered, not shown as source
    finally:
        browser.switch_to.default_content()
    fits_and_snap(browser, "admin-notification-detail")
    # Opened on its own, the email still runs no script: its CSP is a sandbox.
    Notification.objects.filter(pk=rows["sent"].pk).update(
        body_html="<p id=x>Hi</p><script>document.title = 'ran'; "
        "document.getElementById('x').textContent = 'ran';</script>"
    )
    browser.get(log_url(live_server, "%d/html/" % rows["sent"].pk))
    assert browser.find_element(By.ID, "x").text == "Hi"
    assert browser.title != "ran"


def test_the_dashboard_links_to_the_filtered_log(browser, live_server, merchant, rows):
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(log_url(live_server))
    browser.find_element(By.ID, "ou-dashboard-link").click()
    failures = wait(
        browser, EC.presence_of_element_located((By.ID, "ou-recent-failures"))
    )
    assert failures.find_element(By.CLASS_NAME, "ou-figure").text == "1"
    waiting = browser.find_element(By.ID, "ou-waiting")
    assert "15 minutes overdue" in waiting.text
    assert "created 2 hours ago" in waiting.text
    assert (
        "The sweeper has never run"
        in browser.find_element(By.ID, "ou-health-problems").text
    )
    fits_and_snap(browser, "admin-notifications-dashboard")
    failures.find_element(By.CLASS_NAME, "ou-figure").click()
    table = wait(browser, EC.presence_of_element_located((By.ID, "result_list")))
    assert "failed@example.org" in table.text
    assert "sent@example.org" not in table.text
    browser.back()
    browser.find_element(By.CSS_SELECTOR, "#ou-waiting .ou-figure").click()
    table = wait(browser, EC.presence_of_element_located((By.ID, "result_list")))
    assert "pending@example.org" in table.text
    assert "failed@example.org" not in table.text
