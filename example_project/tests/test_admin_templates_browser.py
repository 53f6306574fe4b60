"""The template editor in a real browser: each form submitted for real."""

import pytest
from admin_browser import admin_login, fits_and_snap, message_texts, wait
from django.contrib.auth import get_user_model
from django.core import mail
from order_updates.models import (
    NotificationTemplate,
    NotificationTemplateRevision,
    NotificationTypeSetting,
)
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from shop.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def merchant(db):
    return get_user_model().objects.create_superuser(
        "merchant", "merchant@example.com", "merchant-password"
    )


def editor_url(live_server, type_code="shipped", channel="email", language="en"):
    return "%s/admin/order_updates/notificationtemplate/edit/%s/%s/%s/" % (
        live_server.url,
        type_code,
        channel,
        language,
    )


def set_field(browser, name, value):
    field = browser.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)
    return field


def click(browser, element_id):
    browser.find_element(By.ID, element_id).click()


def wait_for_message(browser, text):
    wait(
        browser,
        lambda b: any(text in message for message in message_texts(b)),
    )


def preview_text(browser):
    """The preview frame's text (Selenium may enter the sandboxed frame; the
    admin page's scripts may not).
    """
    browser.switch_to.frame(browser.find_element(By.ID, "ou-preview"))
    try:
        return browser.find_element(By.TAG_NAME, "body").text
    finally:
        browser.switch_to.default_content()


def test_overview_and_the_type_switch(browser, live_server, merchant):
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(live_server.url + "/admin/order_updates/notificationtemplate/")
    table = browser.find_element(By.ID, "ou-template-overview")
    assert "Shipped" in table.text and "text message" in table.text.lower()
    fits_and_snap(browser, "admin-templates-overview")
    row = browser.find_element(By.ID, "type-order_confirmed")
    row.find_element(By.CSS_SELECTOR, "button[name=switch]").click()
    wait_for_message(browser, "“Order confirmed” notifications are off")
    assert NotificationTypeSetting.objects.get(type="order_confirmed").enabled is False
    row = browser.find_element(By.ID, "type-order_confirmed")
    assert "Off" in row.text
    row.find_element(By.CSS_SELECTOR, "button[name=switch]").click()
    wait_for_message(browser, "“Order confirmed” notifications are on")
    assert NotificationTypeSetting.objects.get(type="order_confirmed").enabled is True


def test_edit_preview_test_send_restore_and_revert(browser, live_server, merchant):
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(editor_url(live_server))
    # The preview shows the template in use, in a frame with every restriction.
    frame = browser.find_element(By.ID, "ou-preview")
    assert frame.get_attribute("sandbox") == ""
    wait(browser, lambda b: "With sample data." in preview_text(b))
    fits_and_snap(browser, "admin-template-editor")

    # 1. An error is shown inline, next to its field, and nothing is saved.
    set_field(browser, "subject", "Order {{ order.numbr }} shipped")
    click(browser, "ou-save")
    errors = wait(
        browser, EC.visibility_of_element_located((By.ID, "id_subject_error"))
    )
    assert "unknown variable 'order.numbr'. Did you mean 'order.number'?" in errors.text
    assert not NotificationTemplate.objects.exists()
    fits_and_snap(browser, "admin-template-editor-error")

    # 2. Fixed, it saves.
    set_field(browser, "subject", "Your order {{ order.number }} is on its way")
    set_field(browser, "comment", "Friendlier subject")
    click(browser, "ou-save")
    wait_for_message(browser, "Saved: Shipped by email in English now uses it.")
    template = NotificationTemplate.objects.get()
    assert template.subject == "Your order {{ order.number }} is on its way"
    assert template.updated_by == merchant

    # 3. The live preview renders the unsaved text in the sandboxed frame; a
    # script in the template runs neither there nor in the admin's page.
    set_field(
        browser,
        "body_html",
        "<h1>Hello {{ customer.name }}</h1>"
        "<script>parent.document.title = 'pwned'; document.title = 'ran';</script>",
    )
    set_field(browser, "subject", "Preview of {{ order.number }}")
    wait(browser, lambda b: "Preview of 1001" in preview_text(b))
    assert "pwned" not in browser.title
    # The frame has no origin of its own: the admin's scripts cannot reach in.
    assert (
        browser.execute_script(
            "return document.getElementById('ou-preview').contentDocument"
        )
        is None
    )
    browser.switch_to.frame(browser.find_element(By.ID, "ou-preview"))
    try:
        email_frame = browser.find_element(By.CSS_SELECTOR, "iframe[sandbox]")
        assert email_frame.get_attribute("sandbox") == ""
        browser.switch_to.frame(email_frame)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Hello Ada Lovelace"
        assert browser.title != "ran"
    finally:
        browser.switch_to.default_content()
    fits_and_snap(browser, None)
    # The sample order's status takes the template's other branches.
    Select(browser.find_element(By.ID, "id_preview_status")).select_by_value(
        "partially_shipped"
    )
    wait(browser, lambda b: "part of your order has shipped" in preview_text(b))

    # 4. A test send goes to the merchant's own address, unsaved text included.
    click(browser, "ou-send-test")
    wait_for_message(browser, "Test sent to merchant@example.com.")
    assert [message.to for message in mail.outbox] == [["merchant@example.com"]]
    assert mail.outbox[0].subject == "[Test] Preview of 1001"
    assert "Hello Ada Lovelace" in mail.outbox[0].alternatives[0][0]
    assert "part of your order has shipped" in mail.outbox[0].body
    assert NotificationTemplate.objects.get().subject.startswith("Your order")

    # A second version, then restore the first from the history.
    browser.get(editor_url(live_server))
    set_field(browser, "subject", "Shipped: {{ order.number }}")
    set_field(browser, "comment", "Shorter")
    click(browser, "ou-save")
    wait_for_message(browser, "Saved")
    first, second = NotificationTemplateRevision.objects.order_by("pk")
    history = browser.find_element(By.ID, "ou-history")
    assert "Shorter" in history.text and "Friendlier subject" in history.text
    # The diff of the latest revision.
    browser.find_element(By.CSS_SELECTOR, "#revision-%d a" % second.pk).click()
    diff = wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".ou-diff")))
    assert "+Shipped: {{ order.number }}" in diff.text
    assert "-Your order {{ order.number }} is on its way" in diff.text
    fits_and_snap(browser, "admin-template-revision")
    browser.back()
    browser.find_element(
        By.CSS_SELECTOR, "#revision-%d button[name=_restore]" % first.pk
    ).click()
    wait_for_message(browser, "Revision #%d restored." % first.pk)
    assert NotificationTemplate.objects.get().subject == (
        "Your order {{ order.number }} is on its way"
    )

    # 5. Revert to the default: the file is used again, the text kept.
    click(browser, "ou-revert")
    wait_for_message(browser, "Reverted: the default template is used again.")
    template = NotificationTemplate.objects.get()
    assert template.active is False
    status = browser.find_element(By.ID, "ou-template-status").text
    assert "The default template is in use" in status


def test_the_sms_editor_counts_segments(browser, live_server, merchant):
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(editor_url(live_server, channel="sms"))
    assert not browser.find_elements(By.NAME, "subject")
    assert not browser.find_elements(By.NAME, "body_html")
    set_field(browser, "body_text", "Order {{ order.number }} is on its way")
    click(browser, "ou-preview-button")
    try:
        wait(browser, lambda b: "Order 1001 is on its way" in preview_text(b))
    except TimeoutException:
        pytest.fail("The preview never showed: %s" % preview_text(browser))
    assert "GSM-7: 1 message (segment)" in preview_text(browser)
    set_field(browser, "body_text", "Bestellung {{ order.number }} ist unterwegs 🚚")
    wait(browser, lambda b: "UCS-2" in preview_text(b))
    # No test send: the merchant's account has no phone number, and the editor
    # says where one goes (the demo's USER_PHONE_FIELD).
    note = browser.find_element(By.ID, "ou-no-test").text
    assert "your account has none for text message" in note
    assert (
        "Give your account a valid phone number: it is read from the user's "
        "profile__phone." in note
    )
    fits_and_snap(browser, "admin-template-editor-sms")


def test_a_test_text_goes_to_the_merchants_own_phone(
    browser, live_server, merchant, capsys
):
    # The demo keeps a user's own number on its profile (USER_PHONE_FIELD).
    Profile.objects.create(user=merchant, phone="+49 151 23456789")
    admin_login(browser, live_server, "merchant", "merchant-password")
    browser.get(editor_url(live_server, channel="sms"))
    button = browser.find_element(By.ID, "ou-send-test")
    assert button.text == "Send a test to +4915123456789"
    set_field(browser, "body_text", "Test of {{ order.number }}: on its way")
    capsys.readouterr()
    button.click()
    wait_for_message(browser, "Test sent to +4915123456789.")
    # The demo's console provider printed it, unsaved text and link included.
    printed = capsys.readouterr().out
    assert "From: DemoShop\nTo: +4915123456789\n" in printed
    assert "\n\n[Test] Test of 1001: on its way\nhttp" in printed
    assert not NotificationTemplate.objects.exists()
    assert not mail.outbox
