"""Webhooks in the admin: endpoints (address checked), the switched-off notice,
the deliveries' log with attempts, and re-send."""

import pytest
from django.urls import reverse
from django.utils import timezone

from order_updates import services
from order_updates.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEventType,
)
from order_updates.webhooks import delivery
from tests.webhook_receiver import Receiver


@pytest.fixture
def merchant(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


ADD = "admin:order_updates_webhookendpoint_add"


def test_add_an_endpoint(merchant, receiver):
    # No secret before saving: one shown here would not be the one saved.
    assert "whsec_" not in merchant.get(reverse(ADD)).content.decode()
    response = merchant.post(
        reverse(ADD),
        {
            "url": receiver.url,
            "description": "ERP",
            "event_types": ["order.status_changed", "shipment.created"],
            "active": "on",
        },
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["order.status_changed", "shipment.created"]
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) == 50
    page = merchant.get(
        reverse("admin:order_updates_webhookendpoint_change", args=[endpoint.pk])
    )
    assert endpoint.secret in page.content.decode()  # to copy into the receiver


def test_unsafe_addresses_are_refused_with_a_message(merchant, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
    }
    response = merchant.post(
        reverse(ADD),
        {"url": "http://169.254.169.254/", "event_types": ["order.delayed"]},
    )
    assert response.status_code == 200
    assert "link-local" in response.content.decode()
    response = merchant.post(
        reverse(ADD), {"url": "https://hooks.example.com/", "event_types": []}
    )
    assert "This field is required." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_switched_off_endpoints_are_announced_and_turned_back_on(merchant):
    endpoint = WebhookEndpoint.objects.create(
        url="https://erp.example.com/hooks",
        description="ERP",
        event_types=["order.delayed"],
        active=False,
        disabled_at=timezone.now(),
        disabled_reason="Switched off after 20 failed attempts in a row.",
        consecutive_failures=20,
    )
    for name in ("webhookendpoint", "webhookdelivery"):
        page = merchant.get(reverse("admin:order_updates_%s_changelist" % name))
        assert "switched off after failing again and again: ERP" in (
            page.content.decode()
        )
    change = reverse("admin:order_updates_webhookendpoint_change", args=[endpoint.pk])
    merchant.post(
        change,
        {
            "url": endpoint.url,
            "description": "ERP",
            "event_types": ["order.delayed"],
            "active": "on",
        },
    )
    endpoint.refresh_from_db()
    assert endpoint.active
    assert (endpoint.disabled_at, endpoint.consecutive_failures) == (None, 0)
    page = merchant.get(reverse("admin:order_updates_webhookendpoint_changelist"))
    assert "switched off" not in page.content.decode()


def test_log_attempts_and_resend(
    merchant, receiver, order, settings, django_capture_on_commit_callbacks
):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "MAX_ATTEMPTS": 1}
    endpoint = WebhookEndpoint.objects.create(
        url=receiver.url, event_types=[WebhookEventType.STATUS_CHANGED]
    )
    receiver.secret = endpoint.secret
    receiver.answers = [500]
    services.set_status(order, "confirmed")
    row = WebhookDelivery.objects.get()
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.FAILED
    listing = merchant.get(
        reverse("admin:order_updates_webhookdelivery_changelist"),
        {"state__exact": "failed"},
    )
    assert "The endpoint answered HTTP 500." in listing.content.decode()
    detail = merchant.get(
        reverse("admin:order_updates_webhookdelivery_change", args=[row.pk])
    )
    assert "answer 500" in detail.content.decode()  # the attempt's response
    assert str(row.event_id) in detail.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = merchant.post(
            reverse("admin:order_updates_webhookdelivery_changelist"),
            {"action": "resend", "_selected_action": [row.pk]},
            follow=True,
        )
    assert "1 delivery queued again." in response.content.decode()
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.PENDING
    # A waiting one is not sent twice, and the merchant is told why.
    again = merchant.post(
        reverse("admin:order_updates_webhookdelivery_changelist"),
        {"action": "resend", "_selected_action": [row.pk]},
        follow=True,
    ).content.decode()
    assert "0 deliveries queued again." in again
    assert "1 delivery was not queued again: it is still waiting" in again
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.SENT
    assert receiver.received[-1].signature_ok


def test_deliveries_cannot_be_edited(merchant, order):
    WebhookEndpoint.objects.create(
        url="https://erp.example.com/", event_types=["order.status_changed"]
    )
    services.set_status(order, "confirmed")
    row = WebhookDelivery.objects.get()
    change = reverse("admin:order_updates_webhookdelivery_change", args=[row.pk])
    page = merchant.get(change).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert str(row.event_id) in page  # shown, read-only
    assert merchant.post(change, {"body": "{}"}).status_code == 403
    assert (
        merchant.get(reverse("admin:order_updates_webhookdelivery_add")).status_code
        == 403
    )


def test_resend_needs_the_change_permission(client, django_user_model, order):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(viewer)
    page = client.get(reverse("admin:order_updates_webhookdelivery_changelist"))
    assert page.status_code == 200
    assert 'value="resend"' not in page.content.decode()
