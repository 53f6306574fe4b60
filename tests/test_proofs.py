"""Test sends (proofs) from the template editor, and the channel capabilities
the editor asks: staff addresses, the text as sent, SMS segments.
"""

import re

import pytest
from django.core import mail, signing

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.exceptions import NoTestAddress, TemplateError
from order_updates.models import Notification
from order_updates.notifications.channels import get_channel
from order_updates.notifications.links import read_token
from order_updates.notifications.proofs import proof_id, send_proof
from tests.links import SAMPLE_TOKEN


def customer_tokens(texts, order):
    """The preference tokens in ``texts`` that name ``order``'s customer (their
    account, or their address): a link that would change their preferences.
    """
    adapter = get_adapter()
    user = adapter.get_user(order)
    email = (adapter.get_email(order) or "").lower()
    found = []
    for text in texts:
        for candidate in re.findall(r"[\w\-:.]{20,}", text):
            try:
                link = read_token(candidate)
            except signing.BadSignature:
                continue
            if (user is not None and link.user_id == user.pk) or (
                email and link.email == email
            ):
                found.append(candidate)
    return found


def email_texts(message):
    """Everything an email carries: subject, parts and headers."""
    return [
        message.subject,
        message.body,
        *(content for content, _type in message.alternatives),
        *message.extra_headers.values(),
    ]


@pytest.fixture
def staff(db, django_user_model):
    return django_user_model.objects.create_user(
        "kim", "kim@example.com", "pw", is_staff=True
    )


def test_an_email_proof_goes_through_the_email_backend_to_the_staff_member(staff):
    sent = send_proof(
        "shipped",
        get_channel("email"),
        "de",
        staff,
        subject="Bestellung {{ order.number }}",
    )
    assert [address for address, _result in sent] == ["kim@example.com"]
    (message,) = mail.outbox
    assert message.to == ["kim@example.com"]
    assert message.subject == "[Test] Bestellung 1001"
    # The rest is the default German email, HTML included.
    assert message.body.startswith("Hallo Ada Lovelace,")
    assert message.alternatives and "1001" in message.alternatives[0][0]
    assert not Notification.objects.exists()


def test_proof_ids_are_negative_and_new_each_time():
    ids = {proof_id() for _ in range(100)}
    assert len(ids) == 100 and all(value < 0 for value in ids)


def test_no_address_no_proof(staff, django_user_model):
    with pytest.raises(NoTestAddress, match="text message"):
        send_proof("shipped", get_channel("sms"), "en", staff, body_text="Hi")
    nobody = django_user_model.objects.create_user("noemail", "", "pw")
    with pytest.raises(NoTestAddress, match="email"):
        send_proof("shipped", get_channel("email"), "en", nobody)
    assert mail.outbox == []


def test_a_template_that_fails_is_not_sent(staff):
    with pytest.raises(TemplateError):
        send_proof(
            "shipped",
            get_channel("email"),
            "en",
            staff,
            subject="{{ order.total | money: 1 | divided_by: 0 }}",
        )
    assert mail.outbox == []


def test_the_sms_text_as_sent_and_its_segments():
    sms, email = get_channel("sms"), get_channel("email")
    url = "https://shop.example.com/t/1"
    assert sms.complete_text("On its way", url) == "On its way\n" + url
    assert sms.complete_text("Track: %s" % url, url) == "Track: %s" % url
    assert email.complete_text("Text", url) == "Text"
    assert sms.segments("a" * 160) == ("GSM-7", 1)
    assert sms.segments("a" * 161) == ("GSM-7", 2)
    assert sms.segments("ő" * 70) == ("UCS-2", 1)
    assert email.segments("anything") is None
    assert email.staff_recipients(type("U", (), {"email": " x@example.com "})) == [
        "x@example.com"
    ]


@pytest.mark.parametrize("with_account", [True, False], ids=["account", "guest"])
def test_a_proof_of_a_real_order_carries_no_link_that_changes_its_customers_preferences(
    staff, make_order, django_user_model, with_account
):
    customer = (
        django_user_model.objects.create_user("ada", "ada@example.com", "pw")
        if with_account
        else None
    )
    order = make_order(user=customer, email="ada@example.com")
    services.start_tracking(order)
    # The customer's own message does carry working links naming them.
    [real] = Notification.objects.filter(order_id=order.pk, channel="email")
    email = get_channel("email")
    built = email.build_message(real, order)
    assert customer_tokens([built.text, built.html, *built.headers.values()], order)

    send_proof(
        "order_received",
        email,
        "en",
        staff,
        body_text="Stop: {{ links.unsubscribe }} Choose: {{ links.preferences }}",
        order=order,
    )
    (message,) = mail.outbox
    assert message.to == ["kim@example.com"]
    assert message.subject.startswith("[Test] ")
    assert get_adapter().get_number(order) in message.subject
    assert customer_tokens(email_texts(message), order) == []
    # The preview's sample links instead, which name no one.
    assert "/order-updates/unsubscribe/%s/" % SAMPLE_TOKEN in message.body
    assert "/order-updates/preferences/%s/" % SAMPLE_TOKEN in message.body
    assert "List-Unsubscribe" not in message.extra_headers


def test_a_text_proof_is_marked_and_carries_no_customer_link(
    staff, make_order, django_user_model, settings, sms_outbox
):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "USER_PHONE_FIELD": "phone"}
    customer = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    order = make_order(user=customer, email="ada@example.com")
    services.start_tracking(order)
    sms = get_channel("sms")
    staff.phone = "+4930901820"
    send_proof(
        "order_received",
        sms,
        "en",
        staff,
        body_text="Order {{ order.number }}. Stop: {{ links.unsubscribe }}",
        order=order,
    )
    [text] = sms_outbox
    assert text.to == "+4930901820"
    assert text.body.startswith(
        "[Test] Order %s. Stop: " % get_adapter().get_number(order)
    )
    assert customer_tokens([text.body], order) == []
    assert SAMPLE_TOKEN in text.body
