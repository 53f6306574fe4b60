"""The notification templates screen: overview, switches, editor, preview,
test send, revisions, restore and revert, through Django's test client.
"""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    NotificationTemplate,
    NotificationTemplateRevision,
    NotificationTypeSetting,
)
from order_updates.notifications.channels import get_channel
from order_updates.notifications.templating import save_template
from tests.links import SAMPLE_TRACK
from tests.testapps.customershop.models import Customer

OVERVIEW = "admin:order_updates_notificationtemplate_changelist"


def editor(type_code="shipped", channel="email", language="en"):
    return reverse(
        "admin:order_updates_notificationtemplate_editor",
        args=[type_code, channel, language],
    )


def preview(type_code="shipped", channel="email", language="en"):
    return reverse(
        "admin:order_updates_notificationtemplate_preview",
        args=[type_code, channel, language],
    )


@pytest.fixture
def boss(db, django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def merchant(client, boss):
    client.force_login(boss)
    return client


def staff_with(django_user_model, client, *codenames, email="staff@example.com"):
    user = django_user_model.objects.create_user(
        "staff-%s" % len(codenames), email, "pw", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def text(response):
    return response.content.decode()


def test_the_overview_shows_each_type_and_channel_and_what_is_customised(
    merchant, boss, django_assert_max_num_queries
):
    save_template(
        "shipped", get_channel("sms"), "en", body_text="On its way: {{ order.number }}"
    )
    save_template("shipped", get_channel("email"), "de", subject="Unterwegs")
    with django_assert_max_num_queries(12):
        page = merchant.get(reverse(OVERVIEW))
    assert page.status_code == 200
    html = text(page)
    # Labels, not codes: the type's label and the channels' labels.
    assert "Shipped" in html and "Text message" in html and "Email" in html
    row = html[html.index('id="type-shipped"') :]
    row = row[: row.index("</tr>")]
    assert row.count("Customised") == 1  # the SMS one, in English
    assert row.count("Default") == 1
    german = text(merchant.get(reverse(OVERVIEW), {"language": "de"}))
    row = german[german.index('id="type-shipped"') :]
    assert row[: row.index("</tr>")].count("Customised") == 1
    # The language chooser counts customised templates per language.
    assert "(1)" in german


def test_the_languages_are_the_shops(merchant, settings):
    # Django's list of every language: only LANGUAGE_CODE, and those in use.
    page = text(merchant.get(reverse(OVERVIEW)))
    chooser = page[page.index('class="ou-languages"') :]
    chooser = chooser[: chooser.index("</nav>")]
    assert "English" in chooser and "German" not in chooser
    save_template("shipped", get_channel("email"), "it", subject="Spedito")
    page = text(merchant.get(reverse(OVERVIEW)))
    assert "Italian (1)" in page
    settings.LANGUAGES = [("en", "English"), ("de", "German"), ("pt-br", "Brazilian")]
    page = text(merchant.get(reverse(OVERVIEW), {"language": "pt-br"}))
    chooser = page[page.index('class="ou-languages"') :]
    chooser = chooser[: chooser.index("</nav>")]
    assert "German" in chooser and "Italian (1)" in chooser
    assert '<strong aria-current="page">Brazilian</strong>' in chooser
    assert "Templates in Brazilian" in page
    assert "/edit/shipped/email/pt-br/" in page


def test_the_shops_language_as_its_languages_spell_it(merchant, settings):
    # Django's default LANGUAGE_CODE: customers get messages in "en", the
    # variant in LANGUAGES, so that is the language templates are edited in.
    settings.LANGUAGE_CODE = "en-us"
    page = text(merchant.get(reverse(OVERVIEW)))
    assert "/edit/shipped/email/en/" in page
    assert "/en-us/" not in page


def test_switching_a_type_off_and_on(merchant, make_order):
    url = reverse("admin:order_updates_notificationtemplate_switch")
    response = merchant.post(
        url, {"type": "order_received", "enabled": "0", "language": "en"}, follow=True
    )
    assert "“Order received” notifications are off" in text(response)
    assert NotificationTypeSetting.objects.get(type="order_received").enabled is False
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    from order_updates.models import Notification

    assert not Notification.objects.filter(order_id=order.pk).exists()
    merchant.post(url, {"type": "order_received", "enabled": "1"})
    assert NotificationTypeSetting.objects.get(type="order_received").enabled is True
    # A type turned on by default can also be switched on (order_processing is off).
    merchant.post(url, {"type": "order_processing", "enabled": "1"})
    assert NotificationTypeSetting.objects.get(type="order_processing").enabled
    bad = merchant.post(url, {"type": "nope", "enabled": "1"}, follow=True)
    assert "Unknown notification type" in text(bad)


def test_the_editor_offers_the_parts_of_the_channels_class(merchant):
    email = text(merchant.get(editor(channel="email")))
    assert 'name="subject"' in email and 'name="body_text"' in email
    assert 'name="body_html"' in email
    sms = text(merchant.get(editor(channel="sms")))
    assert 'name="body_text"' in sms
    assert 'name="subject"' not in sms and 'name="body_html"' not in sms
    # The default is shown, and the documented variables with sample values.
    assert "The default template is in use" in sms
    assert "order.number" in sms and "1001" in sms


def test_sample_values_are_written_as_liquid_writes_them():
    from order_updates.admin.templates import sample_value, variables

    assert sample_value(True) == "true" and sample_value(False) == "false"
    rows = dict(row for group in variables("shipped", "email") for row in group["rows"])
    assert rows["order.tax_included"] in ("true", "false")


def test_saving_with_an_error_shows_it_inline_and_saves_nothing(merchant):
    response = merchant.post(
        editor(),
        {"subject": "Order {{ order.numbr }} shipped", "body_text": "", "_save": "1"},
    )
    assert response.status_code == 200
    html = text(response)
    errors = html[html.index('id="id_subject_error"') :]
    # Screen readers find each field's help and error by the ids it names.
    described = {
        name
        for names in re.findall(r'aria-describedby="([^"]*)"', html)
        for name in names.split()
    }
    assert "id_subject_error" in described
    assert described <= set(re.findall(r'id="([^"]*)"', html))
    assert "unknown variable &#x27;order.numbr&#x27;" in errors[:400]
    assert "Did you mean &#x27;order.number&#x27;?" in errors[:400]
    # The text the merchant wrote is still in the field.
    assert "Order {{ order.numbr }} shipped" in html
    assert not NotificationTemplate.objects.exists()


def test_saving_a_valid_template_is_used_from_then_on(merchant, boss):
    response = merchant.post(
        editor(),
        {
            "subject": "Order {{ order.number }} is on its way",
            "body_text": "",
            "body_html": "",
            "comment": "Shorter subject",
            "_save": "1",
        },
        follow=True,
    )
    assert "Saved: Shipped by email in English now uses it." in text(response)
    template = NotificationTemplate.objects.get()
    assert (template.type, template.channel, template.language) == (
        "shipped",
        "email",
        "en",
    )
    assert template.updated_by == boss
    revision = template.revisions.get()
    assert revision.comment == "Shorter subject" and revision.created_by == boss
    assert "Customised" in text(response)


def test_the_preview_renders_unsaved_text_in_a_sandbox(merchant):
    page = text(merchant.get(editor()))
    assert '<iframe sandbox name="ou-preview"' in page
    response = merchant.post(
        preview(),
        {
            "subject": "Hello {{ customer.name }}",
            "body_text": "",
            "body_html": "<p>Hi <b>{{ customer.name }}</b></p>"
            "<script>alert(1)</script>",
        },
    )
    assert response.status_code == 200
    # A document of its own, sandboxed even when opened outside the frame.
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    html = text(response)
    assert "Hello Ada Lovelace" in html
    assert "With sample data." in html
    # The HTML email is in a nested sandboxed frame, escaped into srcdoc.
    assert '<iframe sandbox title="The HTML email" srcdoc="' in html
    assert "&lt;b&gt;Ada Lovelace&lt;/b&gt;" in html
    assert "<script>alert" not in html


def test_the_preview_uses_a_real_order_or_says_it_does_not_exist(merchant, make_order):
    order = make_order(email="grace@example.com")
    services.start_tracking(order)
    number = get_adapter().get_number(order)
    html = text(
        merchant.post(
            preview(), {"subject": "For {{ order.number }}", "preview_order": number}
        )
    )
    assert "For %s" % number in html
    assert "With the data of order %s." % number in html
    # Typed in another case, as copied from an email or a ticket: found too.
    other_case = number.swapcase()
    assert other_case != number
    html = text(merchant.post(preview(), {"preview_order": other_case}))
    assert "With the data of order %s." % number in html
    missing = text(merchant.post(preview(), {"preview_order": "NOPE-1"}))
    assert "There is no order NOPE-1." in missing


def test_the_sample_order_can_be_in_any_status(merchant):
    """The editor offers the pipeline's statuses for the sample order, so a
    merchant sees the branches a template takes for each: the partial-shipment
    wording and the parcel's own items, for instance.
    """
    page = text(merchant.get(editor()))
    assert '<select name="preview_status" id="id_preview_status"' in page
    assert '<option value="shipped" selected>Shipped</option>' in page
    assert '<option value="partially_shipped">Partially shipped</option>' in page
    whole = text(merchant.post(preview(), {}))
    partial = text(merchant.post(preview(), {"preview_status": "partially_shipped"}))
    assert "your order has shipped" in whole
    assert "part of your order has shipped" in partial
    assert "part of your order" not in whole
    # A status the pipeline does not have falls back to the type's usual one.
    fallback = text(merchant.post(preview(), {"preview_status": "nope"}))
    assert "your order has shipped" in fallback and "part of" not in fallback
    merchant.post(
        editor(),
        {"subject": "", "preview_status": "partially_shipped", "_send_test": "1"},
    )
    [test] = mail.outbox
    assert "part of your order has shipped" in test.body


def test_the_sms_preview_counts_segments(merchant):
    from order_updates.notifications.channels.sms import sms_segments

    # The sample order's tracking page (links.primary of a shipping message).
    tracking = SAMPLE_TRACK  # as long as a real link
    html = text(merchant.post(preview(channel="sms"), {"body_text": "Shipped!"}))
    # The link is added, as the channel adds it when sending, and counted.
    assert "Shipped!\n%s" % tracking in html
    assert sms_segments("Shipped!\n" + tracking) == ("GSM-7", 1)
    assert "%d characters, GSM-7: 1 message (segment)" % (9 + len(tracking)) in html
    unicode = text(
        merchant.post(preview(channel="sms"), {"body_text": "Versandt 📦 " * 10})
    )
    sent = ("Versandt 📦 " * 10).strip() + "\n" + tracking
    encoding, parts = sms_segments(sent)
    assert encoding == "UCS-2" and parts > 2
    assert "UCS-2: %d messages (segments)" % parts in unicode


def test_a_test_send_goes_to_the_staff_members_own_address(merchant):
    response = merchant.post(
        editor(),
        {"subject": "Test of {{ order.number }}", "body_text": "", "_send_test": "1"},
        follow=True,
    )
    assert "Test sent to boss@example.com." in text(response)
    assert [message.to for message in mail.outbox] == [["boss@example.com"]]
    assert mail.outbox[0].subject == "[Test] Test of 1001"
    # Unsaved: a test send writes no template.
    assert not NotificationTemplate.objects.exists()
    # Each proof has a Message-ID of its own (receivers drop repeated ones).
    merchant.post(editor(), {"subject": "Again", "_send_test": "1"})
    ids = {message.extra_headers["Message-ID"] for message in mail.outbox}
    assert len(ids) == 2


def test_a_test_send_with_a_real_order_cannot_unsubscribe_its_customer(
    merchant, make_order, django_user_model
):
    from tests.test_proofs import customer_tokens, email_texts

    customer = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    order = make_order(user=customer, email="ada@example.com")
    services.start_tracking(order)
    number = get_adapter().get_number(order)
    response = merchant.post(
        editor("order_received"),
        {
            "subject": "Order {{ order.number }}",
            "body_text": "Stop: {{ links.unsubscribe }}",
            "preview_order": number,
            "_send_test": "1",
        },
        follow=True,
    )
    assert "Test sent to boss@example.com." in text(response)
    [message] = mail.outbox
    assert message.to == ["boss@example.com"]
    assert message.subject == "[Test] Order %s" % number
    assert customer_tokens(email_texts(message), order) == []
    # A click on the test's link (a mail provider's one-click unsubscribe
    # included) changes nobody's preferences.
    from order_updates.models import NotificationPreference

    before = list(NotificationPreference.objects.values())
    unsubscribe = message.body.split("Stop: ")[1].split()[0]
    click = merchant.post(unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert click.status_code == 400
    assert list(NotificationPreference.objects.values()) == before


def test_no_test_send_without_an_address_on_the_channel(merchant, sms_outbox):
    page = text(merchant.get(editor(channel="sms")))
    assert "your account has none for text message" in page
    assert 'id="ou-send-test"' not in page
    # It says how to get one: the shop has not said where users' numbers are.
    assert "set ORDER_UPDATES[&quot;USER_PHONE_FIELD&quot;] to the user field" in page
    response = merchant.post(
        editor(channel="sms"), {"body_text": "Hi", "_send_test": "1"}, follow=True
    )
    html = text(response)
    assert "The test was not sent" in html
    assert html.count("ORDER_UPDATES[&quot;USER_PHONE_FIELD&quot;]") == 2
    assert sms_outbox == []


def use_customer_phones(settings, channel="sms"):
    """Staff members' own numbers are on their Customer row; the SMS channel is
    configured under the name ``channel``, with the test provider.
    """
    channels = dict(settings.ORDER_UPDATES["CHANNELS"])
    channels[channel] = channels.pop("sms")
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": channels,
        "USER_PHONE_FIELD": "customer__phone",
    }


def test_a_test_text_goes_to_the_staff_members_own_number(
    merchant, boss, settings, sms_outbox
):
    # Under any name: the channel's class knows where a staff member's number is.
    use_customer_phones(settings, channel="texts")
    Customer.objects.create(user=boss, email="boss@example.com", phone="+4930901820")
    page = text(merchant.get(editor(channel="texts")))
    assert "Send a test to +4930901820" in page
    response = merchant.post(
        editor(channel="texts"),
        {"body_text": "Order {{ order.number }} shipped", "_send_test": "1"},
        follow=True,
    )
    assert "Test sent to +4930901820." in text(response)
    [sms] = sms_outbox
    assert sms.to == "+4930901820"
    # As a customer would get it: the link added, as the channel adds it.
    assert sms.body == "[Test] Order 1001 shipped\n" + SAMPLE_TRACK
    assert not NotificationTemplate.objects.exists()  # unsaved text, nothing saved


def test_no_test_text_without_a_valid_number_of_ones_own(
    merchant, boss, settings, sms_outbox
):
    use_customer_phones(settings)
    Customer.objects.create(user=boss, email="boss@example.com", phone="12")
    page = text(merchant.get(editor(channel="sms")))
    assert 'id="ou-send-test"' not in page
    hint = "Give your account a valid phone number: it is read from the user&#x27;s"
    assert "%s customer__phone." % hint in page
    response = merchant.post(
        editor(channel="sms"), {"body_text": "Hi", "_send_test": "1"}, follow=True
    )
    assert "The test was not sent" in text(response)
    assert sms_outbox == []


def test_history_diff_restore_and_revert(merchant):
    email = get_channel("email")
    save_template("shipped", email, "en", subject="First {{ order.number }}")
    save_template("shipped", email, "en", subject="Second {{ order.number }}")
    first, second = NotificationTemplateRevision.objects.order_by("pk")
    page = text(merchant.get(editor()))
    assert 'id="revision-%d"' % first.pk in page
    diff = text(
        merchant.get(
            reverse(
                "admin:order_updates_notificationtemplate_revision", args=[second.pk]
            )
        )
    )
    assert '<span class="ou-diff-remove">-First {{ order.number }}</span>' in diff
    assert '<span class="ou-diff-add">+Second {{ order.number }}</span>' in diff
    response = merchant.post(editor(), {"_restore": first.pk}, follow=True)
    assert "Revision #%d restored." % first.pk in text(response)
    assert NotificationTemplate.objects.get().subject == "First {{ order.number }}"
    response = merchant.post(editor(), {"_revert": "1"}, follow=True)
    assert "the default template is used again" in text(response)
    template = NotificationTemplate.objects.get()
    assert template.active is False
    assert template.revisions.count() == 4
    assert "The default template is in use" in text(response)


def test_the_template_change_url_opens_the_editor(merchant):
    template = save_template("shipped", get_channel("email"), "de", subject="Hallo")
    response = merchant.get(
        reverse("admin:order_updates_notificationtemplate_change", args=[template.pk])
    )
    assert response.status_code == 302
    assert response["Location"] == editor(language="de")


def test_unknown_types_channels_and_languages_are_404(merchant):
    assert merchant.get(editor(type_code="nope")).status_code == 404
    assert merchant.get(editor(channel="fax")).status_code == 404
    assert merchant.get(editor(language="not a language")).status_code == 404


# Permissions ----------------------------------------------------------------------


def test_view_permission_shows_read_only_screens(client, django_user_model):
    staff_with(django_user_model, client, "view_notificationtemplate")
    overview = text(client.get(reverse(OVERVIEW)))
    assert "Turn off" not in overview  # no switch permission
    page = text(client.get(editor()))
    assert 'id="ou-save"' not in page and 'id="ou-send-test"' not in page
    assert "readonly" in page
    # Previews are allowed; saving, test sends, restores and switches are not.
    assert client.post(preview(), {"subject": "x"}).status_code == 200
    assert client.post(editor(), {"subject": "x", "_save": "1"}).status_code == 403
    assert client.post(editor(), {"subject": "x", "_send_test": "1"}).status_code == 403
    assert client.post(editor(), {"_revert": "1"}).status_code == 403
    switch = reverse("admin:order_updates_notificationtemplate_switch")
    assert client.post(switch, {"type": "shipped", "enabled": "0"}).status_code == 403
    assert not NotificationTemplate.objects.exists()
    assert not NotificationTypeSetting.objects.exists()
    assert mail.outbox == []


def test_previews_with_real_orders_need_the_order_view_permission(
    client, django_user_model, make_order
):
    order = make_order(email="grace@example.com")
    services.start_tracking(order)
    number = get_adapter().get_number(order)
    staff_with(django_user_model, client, "view_notificationtemplate")
    html = text(client.post(preview(), {"preview_order": number}))
    assert "You may not view orders" in html and number not in html
    opts = order._meta
    client.logout()
    user = django_user_model.objects.get(username="staff-1")
    user.user_permissions.add(
        Permission.objects.get(
            codename="view_%s" % opts.model_name, content_type__app_label=opts.app_label
        )
    )
    client.force_login(user)
    html = text(client.post(preview(), {"preview_order": number}))
    assert "With the data of order %s." % number in html


def test_switch_permission_alone(client, django_user_model):
    staff_with(
        django_user_model,
        client,
        "view_notificationtemplate",
        "change_notificationtypesetting",
    )
    assert "Turn off" in text(client.get(reverse(OVERVIEW)))
    switch = reverse("admin:order_updates_notificationtemplate_switch")
    assert client.post(switch, {"type": "shipped", "enabled": "0"}).status_code == 302
    assert NotificationTypeSetting.objects.get(type="shipped").enabled is False


def test_staff_without_permissions_see_nothing(client, django_user_model):
    staff_with(django_user_model, client)
    assert client.get(reverse(OVERVIEW)).status_code == 403
    assert client.get(editor()).status_code == 403
    assert client.post(preview(), {}).status_code == 403


def test_every_form_needs_the_csrf_token(boss):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    assert client.post(editor(), {"subject": "x", "_save": "1"}).status_code == 403
    assert client.post(preview(), {"subject": "x"}).status_code == 403
    switch = reverse("admin:order_updates_notificationtemplate_switch")
    assert client.post(switch, {"type": "shipped", "enabled": "0"}).status_code == 403
    page = text(client.get(editor()))
    assert page.count('name="csrfmiddlewaretoken"') >= 2


def test_a_failed_test_send_says_why(merchant, settings):
    import smtplib

    from tests import flaky_email

    settings.EMAIL_BACKEND = "tests.flaky_email.RaisingEmailBackend"
    flaky_email.raise_next[:] = [
        smtplib.SMTPRecipientsRefused({"boss@example.com": (550, b"No such user")})
    ]
    response = merchant.post(
        editor(), {"subject": "Hello", "_send_test": "1"}, follow=True
    )
    html = text(response)
    assert "The test was not sent:" in html and "No such user" in html
    # The unsaved text is still in the form.
    assert ">\nHello</textarea>" in html


def test_the_editor_costs_the_same_queries_with_a_long_history(merchant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    email = get_channel("email")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert merchant.get(editor()).status_code == 200
        return len(captured)

    save_template("shipped", email, "en", subject="One {{ order.number }}")
    few = queries()
    for number in range(20):
        save_template("shipped", email, "en", subject="V%d {{ order.number }}" % number)
    assert queries() == few
