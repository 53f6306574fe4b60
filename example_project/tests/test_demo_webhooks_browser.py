"""The webhook screens of the admin, driven in headless Chromium: an endpoint
added through the form (an unsafe address refused with a message first), and a
failed delivery re-sent with the list's action."""

import pytest
from django.contrib.auth import get_user_model
from order_updates.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = pytest.mark.django_db(transaction=True)


def wait(browser, condition, timeout=15):
    return WebDriverWait(browser, timeout).until(condition)


@pytest.fixture
def merchant_browser(browser, live_server):
    get_user_model().objects.create_superuser("mia", "mia@example.com", "mia-pw")
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys("mia")
    browser.find_element(By.ID, "id_password").send_keys("mia-pw")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait(browser, EC.presence_of_element_located((By.ID, "user-tools")))  # logged in
    return browser


def test_add_an_endpoint_in_the_admin(merchant_browser, live_server):
    browser = merchant_browser
    browser.get(live_server.url + "/admin/order_updates/webhookendpoint/add/")
    browser.find_element(By.ID, "id_url").send_keys("http://127.0.0.1:8000/hooks")
    browser.find_element(By.ID, "id_description").send_keys("Warehouse")
    browser.find_element(
        By.CSS_SELECTOR, "input[name=event_types][value='order.status_changed']"
    ).click()
    browser.find_element(By.CSS_SELECTOR, "input[name=_save]").click()
    error = wait(
        browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".errorlist"))
    )
    assert "loopback" in error.text
    assert not WebhookEndpoint.objects.exists()

    field = browser.find_element(By.ID, "id_url")
    field.clear()
    field.send_keys("https://93.184.215.14/hooks")
    for event_type in ("shipment.created", "shipment.updated", "tracking.updated"):
        browser.find_element(
            By.CSS_SELECTOR, "input[name=event_types][value='%s']" % event_type
        ).click()
    browser.find_element(By.CSS_SELECTOR, "input[name=_save]").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == "https://93.184.215.14/hooks"
    assert endpoint.description == "Warehouse"
    assert endpoint.event_types == [
        "order.status_changed",
        "shipment.created",
        "shipment.updated",
        "tracking.updated",
    ]
    assert endpoint.active and endpoint.secret.startswith("whsec_")


def test_resend_a_failed_delivery_from_the_list(merchant_browser, live_server):
    endpoint = WebhookEndpoint.objects.create(
        url="https://93.184.215.14/hooks", event_types=["order.delayed"]
    )
    failed = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type="order.delayed",
        body="{}",
        state=WebhookDeliveryState.FAILED,
        attempts=6,
        last_error="The endpoint answered HTTP 500.",
    )
    browser = merchant_browser
    browser.get(live_server.url + "/admin/order_updates/webhookdelivery/")
    browser.find_element(
        By.CSS_SELECTOR, "input[name=_selected_action][value='%d']" % failed.pk
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("resend")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    message = wait(
        browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist"))
    )
    assert "1 delivery queued again." in message.text
    failed.refresh_from_db()
    assert failed.state == WebhookDeliveryState.PENDING and failed.attempts == 0
