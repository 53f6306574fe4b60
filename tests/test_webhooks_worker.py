"""Webhooks end to end: PostgreSQL, Redis, a real worker process and a real
HTTP server on loopback that checks the signatures."""

import pytest
from django.db import transaction

from order_updates import services
from order_updates.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEventType,
)
from tests.celery_worker import WorkerProcess, wait_for
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def fast_retry_worker(transactional_db, tmp_path):
    """A worker whose retries come after about a second."""
    import uuid

    from tests.celery_app import app

    queue = "order_updates_webhooks_%s" % uuid.uuid4().hex[:8]
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = WorkerProcess(
        queue, str(tmp_path / "mail"), {"TEST_RETRY_BACKOFF": "1"}
    ).start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_default_queue = previous
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def test_the_worker_delivers_retries_after_a_500_and_sends_nothing_for_a_rollback(
    fast_retry_worker, receiver, make_order
):
    endpoint = WebhookEndpoint.objects.create(
        url=receiver.url, event_types=[WebhookEventType.STATUS_CHANGED]
    )
    receiver.secret = endpoint.secret
    receiver.answers = [500]
    rolled_back = make_order()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_status(rolled_back, "confirmed")
        raise RuntimeError("payment failed")
    order = make_order()
    services.set_status(order, "confirmed")
    row = WebhookDelivery.objects.get()
    wait_for(
        lambda: (
            WebhookDelivery.objects.get(pk=row.pk).state == WebhookDeliveryState.SENT
        ),
        timeout=60,
    )
    first, second = receiver.received
    assert first.signature_ok and second.signature_ok
    assert (
        first.headers["webhook-id"] == second.headers["webhook-id"] == str(row.event_id)
    )
    assert second.json["data"]["order"]["id"] == order.pk
    assert [a.status_code for a in row.attempt_log.all()] == [500, 200]
    assert "order_updates.deliver_webhooks" in fast_retry_worker.output()
    # Nothing about the rolled-back change reached the server.
    assert all(
        r.json["data"]["order"]["id"] != rolled_back.pk for r in receiver.received
    )
