"""End to end on PostgreSQL, Redis and a real worker: a carrier's webhook reaches
the customer's inbox, and beat's check task raises its alerts in the worker.
(That a second run raises nothing is tested in-process: test_monitoring.)"""

import datetime
import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from order_updates import services
from order_updates.models import EventKind, Notification, NotificationState, OrderEvent
from tests.carriers.webhooks.conftest import post
from tests.celery_worker import wait_for
from tests.test_celery_worker import mails

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_webhook_scan_reaches_the_inbox_once(
    celery_worker, make_order, client, settings
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "TRACKING_WEBHOOKS": {"generic": {"SECRETS": ["s3cret"]}},
    }
    order = make_order(email="ada@example.com")
    services.set_status(order, "confirmed", notify=False)
    services.set_status(order, "processing", notify=False)
    services.add_shipment(
        order, carrier="ups", tracking_number="1Z5R89390357567127", notify=False
    )
    scan = {
        "id": "ofd-1",
        "tracking_number": "1Z5R89390357567127",
        "status": "out_for_delivery",
        "occurred_at": timezone.now().isoformat(),
        "location": "Berlin, DE",
    }
    body = json.dumps({"events": [scan]}).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "X-Order-Updates-Timestamp": timestamp,
        "X-Order-Updates-Signature": "sha256=" + signature.hexdigest(),
    }
    for _ in range(2):  # the provider retries: harmless
        response = post(
            client, reverse("order_updates_tracking:generic"), body, **headers
        )
        assert response.status_code == 200
    # Rows are written with the change, so a duplicate would already be here.
    assert Notification.objects.filter(order_id=order.pk, channel="email").count() == 1

    def sent():
        rows = Notification.objects.filter(
            order_id=order.pk, type="out_for_delivery", state=NotificationState.SENT
        )
        return list(rows)

    assert len(wait_for(sent)) == 1
    text = "".join(
        path.read_text() for path in wait_for(lambda: mails(celery_worker) or None)
    )
    assert "ada@example.com" in text
    assert "https://www.ups.com/track?loc=en_US&tracknum=1Z5R89390357567127" in text


def test_the_beat_task_raises_alerts_in_the_worker(celery_worker, make_order):
    from tests.celery_app import app

    order = make_order(email="ada@example.com")
    shipment = services.add_shipment(
        order, carrier="ups", shipped_at=timezone.now(), notify=False
    )
    services.set_estimated_delivery(
        shipment, timezone.localdate() - datetime.timedelta(days=2), notify=False
    )
    app.send_task("order_updates.check_shipments")
    late = wait_for(
        lambda: OrderEvent.objects.filter(
            order_id=order.pk, kind=EventKind.DELIVERY_DELAYED
        ).first()
    )
    assert late.data["reason"] == "late"
    assert late.actor_label == "system"
