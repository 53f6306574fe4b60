"""The notification log in the admin: every message, its state, and re-send."""

import pytest
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
            {"action": "resend", "_selected_action": [failed_row.pk]},
            follow=True,
        )
    assert "1 notification queued again." in response.content.decode()
    row = Notification.objects.get(pk=failed_row.pk)
    assert (row.state, row.attempts) == (NotificationState.PENDING, 0)
    assert broker_queue() == [row.pk]
    assert delivery.deliver(row.pk) == delivery.SENT


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
    client.post(url, {"action": "resend", "_selected_action": [failed_row.pk]})
    assert Notification.objects.get(pk=failed_row.pk).state == NotificationState.FAILED
