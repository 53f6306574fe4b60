"""The notification log in the admin: every message, its state, and re-send."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from order_updates import services
from order_updates.models import Notification, NotificationState
from order_updates.notifications import delivery


@pytest.fixture
def merchant(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def failed_row(make_order, settings):
    from tests import flaky_email

    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    settings.EMAIL_BACKEND = "tests.flaky_email.RaisingEmailBackend"
    flaky_email.raise_next[:] = [RuntimeError("ESP down")]
    Notification.objects.filter(pk=row.pk).update(attempts=5)
    assert delivery.deliver(row.pk) == delivery.FAILED
    return Notification.objects.get(pk=row.pk)


def test_the_log_lists_messages_with_state_and_error(merchant, failed_row):
    url = reverse("admin:order_updates_notification_changelist")
    page = merchant.get(url, {"state__exact": "failed"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "ada@example.com" in html
    assert "RuntimeError: ESP down" in html
    detail = merchant.get(
        reverse("admin:order_updates_notification_change", args=[failed_row.pk])
    )
    assert detail.status_code == 200
    assert "RuntimeError: ESP down" in detail.content.decode()
    # Failed for good: no "next attempt" (the column still holds the last one).
    next_attempt = re.search(
        r"field-next_attempt_display.*?<div class=\"readonly\">(.*?)</div>",
        detail.content.decode(),
        re.S,
    )
    assert next_attempt and next_attempt.group(1).strip() == "-"


def test_nothing_can_be_edited_or_added(merchant, failed_row):
    change = reverse("admin:order_updates_notification_change", args=[failed_row.pk])
    response = merchant.post(change, {"recipient": "evil@example.com"})
    assert response.status_code == 403
    assert Notification.objects.get(pk=failed_row.pk).recipient == "ada@example.com"
    add = merchant.get(reverse("admin:order_updates_notification_add"))
    assert add.status_code == 403


def test_resend_action_queues_failed_messages_again(
    merchant, failed_row, broker_queue, django_capture_on_commit_callbacks
):
    url = reverse("admin:order_updates_notification_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(
            url,
            {"action": "resend_selected", "_selected_action": [failed_row.pk]},
            follow=True,
        )
    assert "1 notification queued again." in response.content.decode()
    row = Notification.objects.get(pk=failed_row.pk)
    assert (row.state, row.attempts) == (NotificationState.PENDING, 0)
    assert broker_queue() == [row.pk]
    assert delivery.deliver(row.pk) == delivery.SENT


def test_a_superseded_message_sent_again_reaches_the_customer(
    merchant, make_order, django_capture_on_commit_callbacks
):
    from django.core import mail

    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    older, newer = Notification.objects.filter(
        order_id=order.pk, channel="email"
    ).order_by("pk")
    assert delivery.deliver(newer.pk) == delivery.SENT
    older.refresh_from_db()
    assert older.state == NotificationState.SKIPPED
    assert older.reason.startswith("Superseded by a newer update")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(
            reverse("admin:order_updates_notification_changelist"),
            {"action": "resend_selected", "_selected_action": [older.pk]},
            follow=True,
        )
    assert "1 notification queued again." in response.content.decode()
    # The worker sends it, although "order confirmed" is newer.
    assert delivery.deliver(older.pk) == delivery.SENT
    older.refresh_from_db()
    assert older.state == NotificationState.SENT and older.resent_at is not None
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == older.subject
    # Its page says it was sent again, and when.
    page = merchant.get(
        reverse("admin:order_updates_notification_change", args=[older.pk])
    ).content.decode()
    assert "Sent again at" in page


def test_orders_stay_deletable_with_notifications(merchant, failed_row):
    """Django asks every registered admin before deleting an order's rows."""
    order = failed_row.order
    opts = order._meta
    page = "admin:%s_%s_change" % (opts.app_label, opts.model_name)
    # The shop's order page shows the timeline inline.
    change = merchant.get(reverse(page, args=[order.pk]))
    assert "Tracking started" in change.content.decode()
    delete = "admin:%s_%s_delete" % (opts.app_label, opts.model_name)
    response = merchant.post(reverse(delete, args=[order.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Notification.objects.filter(pk=failed_row.pk).exists()


def test_view_only_staff_cannot_resend(client, django_user_model, failed_row):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", "v@example.com", "pw")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(viewer)
    url = reverse("admin:order_updates_notification_changelist")
    page = client.get(url)
    assert page.status_code == 200
    assert "Send selected notifications again" not in page.content.decode()
    client.post(url, {"action": "resend_selected", "_selected_action": [failed_row.pk]})
    assert Notification.objects.get(pk=failed_row.pk).state == NotificationState.FAILED


# Labels, read-only history, filters ---------------------------------------------


@pytest.fixture
def sent_row(make_order):
    order = make_order(email="grace@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk, channel="email")
    assert delivery.deliver(row.pk) == delivery.SENT
    return Notification.objects.get(pk=row.pk)


@pytest.fixture
def pending_row(make_order):
    order = make_order(email="linus@example.com")
    services.start_tracking(order)
    return Notification.objects.get(order_id=order.pk, channel="email")


def changelist():
    return reverse("admin:order_updates_notification_changelist")


def change(row):
    return reverse("admin:order_updates_notification_change", args=[row.pk])


def test_the_log_shows_labels_not_codes(merchant, sent_row, failed_row):
    html = merchant.get(changelist()).content.decode()
    assert "Order received" in html and ">order_received<" not in html
    assert "Email" in html
    assert ">Sent</span>" in html and ">Failed</span>" in html
    # The filters use the labels too.
    assert "By channel" in html and "By notification type" in html
    assert "By created at" in html


def test_the_filters_filter(merchant, sent_row, failed_row):
    by_state = merchant.get(changelist(), {"state__exact": "sent"})
    assert "grace@example.com" in by_state.content.decode()
    assert "ada@example.com" not in by_state.content.decode()
    by_channel = merchant.get(changelist(), {"channel": "sms"}).content.decode()
    assert "grace@example.com" not in by_channel
    by_type = merchant.get(changelist(), {"type": "order_received"}).content.decode()
    assert "grace@example.com" in by_type and "ada@example.com" in by_type
    since = "2000-01-01T00:00:00+00:00"
    by_date = merchant.get(changelist(), {"created_at__gte": since})
    assert by_date.status_code == 200
    assert "grace@example.com" in by_date.content.decode()


def test_the_html_email_shows_as_it_renders_in_a_sandbox(merchant, sent_row):
    page = merchant.get(change(sent_row)).content.decode()
    html_url = reverse("admin:order_updates_notification_html", args=[sent_row.pk])
    assert '<iframe sandbox class="ou-email-frame"' in page
    assert 'src="%s"' % html_url in page
    # Not the source: the HTML's tags are nowhere in the page itself.
    assert "&lt;table" not in page and "<table role" not in page
    response = merchant.get(html_url)
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response.content.decode() == sent_row.body_html


def test_no_save_and_no_delete_on_the_history(merchant, sent_row):
    page = merchant.get(change(sent_row)).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "deletelink" not in page
    listing = merchant.get(changelist()).content.decode()
    assert "delete_selected" not in listing
    delete = reverse("admin:order_updates_notification_delete", args=[sent_row.pk])
    assert merchant.get(delete).status_code == 403
    assert merchant.post(delete, {"post": "yes"}).status_code == 403
    assert Notification.objects.filter(pk=sent_row.pk).exists()


def test_resend_says_why_rows_were_not_sent_again(
    merchant, failed_row, sent_row, pending_row, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = merchant.post(
            changelist(),
            {
                "action": "resend_selected",
                "_selected_action": [failed_row.pk, sent_row.pk, pending_row.pk],
            },
            follow=True,
        )
    html = response.content.decode()
    assert "1 notification queued again." in html
    assert (
        "2 notifications were not sent again: waiting to be sent (1), "
        "already sent (1)." in html
    )
    assert "0 notifications" not in html


def test_cancel_pending_rows_from_the_list_and_the_page(
    merchant, pending_row, sent_row
):
    response = merchant.post(
        changelist(),
        {
            "action": "cancel_selected",
            "_selected_action": [pending_row.pk, sent_row.pk],
        },
        follow=True,
    )
    html = response.content.decode()
    assert "1 notification cancelled: it will not be sent." in html
    assert "1 notification was not cancelled: already sent (1)." in html
    row = Notification.objects.get(pk=pending_row.pk)
    assert row.state == NotificationState.SKIPPED
    assert row.reason == "Cancelled by boss."
    assert delivery.deliver(row.pk) == delivery.NOT_CLAIMED


def test_the_cancel_button_on_a_pending_row(merchant, pending_row):
    page = merchant.get(change(pending_row)).content.decode()
    assert 'id="ou-cancel"' in page and 'id="ou-resend"' not in page
    url = reverse("admin:order_updates_notification_cancel", args=[pending_row.pk])
    response = merchant.post(url, follow=True)
    assert "1 notification cancelled" in response.content.decode()
    assert Notification.objects.get(pk=pending_row.pk).state == "skipped"
    page = merchant.get(change(pending_row)).content.decode()
    assert 'id="ou-cancel"' not in page and 'id="ou-resend"' in page
    # Cancelling again explains itself.
    again = merchant.post(url, follow=True).content.decode()
    assert "was not cancelled: skipped or cancelled (1)." in again


def test_view_only_staff_cannot_cancel(client, django_user_model, pending_row):
    viewer = django_user_model.objects.create_user(
        "viewer", "v@example.com", "pw", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(viewer)
    page = client.get(change(pending_row)).content.decode()
    assert 'id="ou-cancel"' not in page
    url = reverse("admin:order_updates_notification_cancel", args=[pending_row.pk])
    assert client.post(url).status_code == 403
    client.post(
        changelist(),
        {"action": "cancel_selected", "_selected_action": [pending_row.pk]},
    )
    assert Notification.objects.get(pk=pending_row.pk).state == "pending"


def test_change_permission_alone_may_cancel(client, django_user_model, pending_row):
    staff = django_user_model.objects.create_user(
        "ops", "ops@example.com", "pw", is_staff=True
    )
    staff.user_permissions.add(Permission.objects.get(codename="change_notification"))
    client.force_login(staff)
    assert client.get(changelist()).status_code == 200
    url = reverse("admin:order_updates_notification_cancel", args=[pending_row.pk])
    assert client.post(url).status_code == 302
    assert Notification.objects.get(pk=pending_row.pk).state == "skipped"


def test_the_row_buttons_need_the_csrf_token(django_user_model, pending_row):
    from django.test import Client

    boss = django_user_model.objects.create_superuser("csrf", "c@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    url = reverse("admin:order_updates_notification_cancel", args=[pending_row.pk])
    assert client.post(url).status_code == 403
    assert Notification.objects.get(pk=pending_row.pk).state == "pending"


# The dashboard ----------------------------------------------------------------


def test_the_dashboard_counts_and_links_to_the_filtered_log(
    merchant, failed_row, sent_row, pending_row, django_assert_max_num_queries
):
    import datetime

    from django.utils import timezone

    from order_updates.models import SweeperRun

    Notification.objects.filter(pk=pending_row.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=3),
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=20),
    )
    SweeperRun.objects.create(
        pk=1, finished_at=timezone.now() - datetime.timedelta(minutes=30)
    )
    url = reverse("admin:order_updates_notification_dashboard")
    with django_assert_max_num_queries(10):
        page = merchant.get(url)
    html = page.content.decode()
    recent = html[html.index('id="ou-recent-failures"') :]
    assert '">1</a>' in recent[:600]
    assert "20\xa0minutes overdue" in html
    assert "created 3\xa0hours ago" in html
    assert "The sweeper last ran" in html  # the health check's problem
    # Each figure links to the log, filtered; the links work.
    import re

    links = re.findall(r'href="(/admin/order_updates/notification/\?[^"]+)"', html)
    assert links
    import html as html_module

    for link in links:
        response = merchant.get(html_module.unescape(link))
        assert response.status_code == 200, link
        assert "?e=1" not in response.get("Location", "")
    failed = merchant.get(
        html_module.unescape(
            re.search(r'<a class="ou-figure" href="([^"]+)"', recent).group(1)
        )
    ).content.decode()
    assert "ada@example.com" in failed and "grace@example.com" not in failed
    due = html[html.index('id="ou-waiting"') :]
    due_link = re.search(r'<a class="ou-figure" href="([^"]+)"', due).group(1)
    overdue = merchant.get(html_module.unescape(due_link)).content.decode()
    assert "linus@example.com" in overdue and "grace@example.com" not in overdue


def test_the_dashboard_shows_each_carriers_figures_in_one_query(merchant, make_order):
    import datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from order_updates import services

    url = reverse("admin:order_updates_notification_dashboard")
    assert "No shipment was delivered" in merchant.get(url).content.decode()

    def delivered(carrier, days, late=False):
        shipped = timezone.now() - datetime.timedelta(days=days + 1)
        arrived = shipped + datetime.timedelta(days=days)
        shipment = services.add_shipment(
            make_order(),
            carrier=carrier,
            shipped_at=shipped,
            estimated_delivery=timezone.localdate(arrived)
            - datetime.timedelta(days=1 if late else 0),
        )
        services.record_tracking_events(
            shipment,
            [services.Scan(occurred_at=arrived, status="delivered")],
            notify=False,
        )

    def dashboard():
        with CaptureQueriesContext(connection) as captured:
            html = merchant.get(url).content.decode()
        return html[html.index('id="ou-carriers"') :], len(captured)

    delivered("ups", 2)
    _html, few = dashboard()
    delivered("ups", 4, late=True)
    delivered("dhl", 1)
    delivered("dhl", 3)
    delivered("dhl", 5)
    html, many = dashboard()
    assert many == few
    rows = re.findall(
        r"<tr><th scope=\"row\">([^<]+)</th><td>(\d+)</td><td>([^<]+)</td>"
        r"<td>([^<]+)</td></tr>",
        html,
    )
    assert rows == [("DHL", "3", "3.0 days", "100 %"), ("UPS", "2", "3.0 days", "50 %")]


def test_the_dashboard_needs_the_view_permission(client, django_user_model):
    staff = django_user_model.objects.create_user(
        "nobody", "n@example.com", "pw", is_staff=True
    )
    client.force_login(staff)
    url = reverse("admin:order_updates_notification_dashboard")
    assert client.get(url).status_code == 403


def test_the_log_costs_the_same_queries_for_3_or_30_rows(
    merchant, make_order, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def rows(count):
        for _ in range(count):
            services.start_tracking(make_order())

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert merchant.get(changelist()).status_code == 200
        return len(captured)

    rows(3)
    few = queries()
    rows(27)
    assert Notification.objects.count() >= 30
    assert queries() == few


def test_a_fallback_links_to_the_row_it_replaces(merchant, failed_row):
    sms = Notification.objects.create(
        order=failed_row.order,
        event=failed_row.event,
        type=failed_row.type,
        channel="sms",
        recipient="+4915112345678",
        dedupe_key="fallback-test",
        fallback_for=failed_row,
    )
    page = merchant.get(change(sms)).content.decode()
    assert '<a href="%s">Email (Failed)</a>' % change(failed_row) in page
    # Titled with labels: the title, the heading and the breadcrumbs.
    assert page.count("Order received by text message to +4915112345678: Pending") == 3
