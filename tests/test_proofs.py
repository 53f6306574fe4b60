"""Test sends (proofs) from the template editor, and the channel capabilities
the editor asks: staff addresses, the text as sent, SMS segments.
"""

import pytest
from django.core import mail

from order_updates.exceptions import NoTestAddress, TemplateError
from order_updates.models import Notification
from order_updates.notifications.channels import get_channel
from order_updates.notifications.proofs import proof_id, send_proof


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
    assert message.subject == "Bestellung 1001"
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
