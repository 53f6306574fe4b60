"""Outbound webhooks: the outbox rows, signing, delivery to a real HTTP server
on loopback, retries, automatic disabling, address checks, re-sending.
"""

import datetime
import io
import json
import socket
import uuid

import pytest
from django.db import transaction
from django.utils import timezone

from order_updates import services
from order_updates.exceptions import UnsafeWebhookTarget
from order_updates.models import (
    Notification,
    NotificationState,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEventType,
)
from order_updates.notifications import delivery as engine
from order_updates.webhooks import delivery, signing, targets
from order_updates.webhooks.events import queue_failure_webhooks
from tests.webhook_receiver import Receiver, signature_ok

UTC = datetime.timezone.utc

ALL_TYPES = [choice.value for choice in WebhookEventType]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(db, receiver):
    endpoint = WebhookEndpoint.objects.create(url=receiver.url, event_types=ALL_TYPES)
    receiver.secret = endpoint.secret
    return endpoint


def deliveries(**filters):
    return list(WebhookDelivery.objects.filter(**filters).order_by("pk"))


def due_now(row):
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


# Writing the outbox rows ------------------------------------------------------------


def test_status_change_writes_one_delivery_per_subscribed_endpoint(
    endpoint, order, staff_user
):
    other = WebhookEndpoint.objects.create(
        url="https://erp.example.com/hooks",
        event_types=[WebhookEventType.STATUS_CHANGED],
    )
    WebhookEndpoint.objects.create(  # wants other events only
        url="https://crm.example.com/hooks",
        event_types=[WebhookEventType.SHIPMENT_CREATED],
    )
    WebhookEndpoint.objects.create(  # switched off
        url="https://old.example.com/hooks", event_types=ALL_TYPES, active=False
    )
    services.start_tracking(order)
    assert not WebhookDelivery.objects.exists()  # tracking started: no event type
    services.set_status(order, "confirmed", actor=staff_user, message="Paid")
    rows = deliveries()
    assert {row.endpoint_id for row in rows} == {endpoint.pk, other.pk}
    # One event: the same id for every endpoint.
    assert rows[0].event_id == rows[1].event_id
    body = json.loads(rows[0].body)
    assert body["id"] == str(rows[0].event_id)
    assert body["type"] == "order.status_changed"
    assert datetime.datetime.fromisoformat(body["timestamp"])
    assert body["data"]["order"]["id"] == order.pk
    event = body["data"]["event"]
    assert (event["from_status"], event["to_status"]) == ("placed", "confirmed")
    assert event["message"] == "Paid"
    assert event["actor"] == "merchant"
    assert rows[0].order_id == order.pk
    assert {row.state for row in rows} == {WebhookDeliveryState.PENDING}


def test_a_rolled_back_change_writes_nothing(endpoint, order):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.set_status(order, "confirmed")
        raise RuntimeError("payment failed")
    assert not WebhookDelivery.objects.exists()


def test_shipments_and_delays_raise_their_events(endpoint, order):
    services.set_status(order, "processing")
    WebhookDelivery.objects.all().delete()
    services.add_shipment(
        order, carrier="ups", tracking_number="1Z999", status="shipped", notify=False
    )
    services.report_delivery_issue(order, "delayed", message="Storm")
    types = [row.event_type for row in deliveries()]
    assert types == ["shipment.created", "order.status_changed", "order.delayed"]
    shipment = json.loads(deliveries(event_type="shipment.created")[0].body)
    assert shipment["data"]["event"]["data"]["tracking_number"] == "1Z999"


def test_bulk_changes_write_their_deliveries_in_two_statements(endpoint, make_order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    orders = [make_order() for _ in range(30)]
    with CaptureQueriesContext(connection) as queries:
        services.bulk_set_status(orders, "confirmed", notify=False)
    webhook_statements = [
        query["sql"] for query in queries if "order_updates_webhook" in query["sql"]
    ]
    # The subscribed endpoints, then one insert for the 30 deliveries.
    assert len(webhook_statements) == 2
    assert WebhookDelivery.objects.count() == 30
    assert len({row.event_id for row in deliveries()}) == 30


def test_a_failed_notification_raises_its_event(endpoint, order):
    services.start_tracking(order)
    notification = Notification.objects.get(order_id=order.pk)
    bounced = Notification.objects.get(pk=notification.pk)
    notification.state = NotificationState.FAILED
    bounced.state = NotificationState.BOUNCED
    queue_failure_webhooks([(notification, "550"), (bounced, "gone")])
    failed, bounced = deliveries()
    assert failed.event_type == "notification.failed"
    assert bounced.event_type == "notification.bounced"
    data = json.loads(failed.body)["data"]
    assert data["notification"]["id"] == notification.pk
    assert data["notification"]["error"] == "550"


def test_the_worker_failure_path_sends_the_event(endpoint, order, settings):
    """Through the delivery engine: a permanent failure is announced, and the
    webhook written."""
    from order_updates.exceptions import PermanentChannelError
    from order_updates.notifications.channels import test as test_channel

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {"email": "order_updates.notifications.channels.test.TestChannel"},
    }
    test_channel.reset()
    test_channel.TestChannel.fail_next(PermanentChannelError("550 no such user"))
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    assert engine.deliver(row.pk) == engine.FAILED
    (webhook,) = deliveries()
    assert webhook.event_type == "notification.failed"
    assert (
        "550 no such user" in json.loads(webhook.body)["data"]["notification"]["error"]
    )


# Signing ------------------------------------------------------------------------------


def test_signature_is_standard_webhooks():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    # The Standard Webhooks specification's own example.
    assert (
        signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


# Delivering to a real server ---------------------------------------------------------


def test_delivered_to_the_endpoint_signed(endpoint, receiver, order):
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    assert delivery.deliver_batch([row.pk]) == {row.pk: delivery.SENT}
    (request,) = receiver.received
    assert request.path == "/hooks/orders"
    assert request.signature_ok
    assert request.headers["webhook-id"] == str(row.event_id)
    assert request.headers["content-type"] == "application/json"
    assert request.json["type"] == "order.status_changed"
    assert (
        abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    )
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.SENT
    assert row.delivered_at and row.attempts == 1
    (attempt,) = row.attempt_log.all()
    assert attempt.status_code == 200 and attempt.ok
    assert attempt.response == "answer 200"
    # A second task for the same row posts nothing.
    assert delivery.deliver_batch([row.pk]) == {row.pk: delivery.NOT_CLAIMED}
    assert len(receiver.received) == 1


def test_a_wrong_secret_fails_the_receivers_check(endpoint, receiver, order):
    receiver.secret = "whsec_" + "A" * 44
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    delivery.deliver_batch([row.pk])
    assert receiver.received and not receiver.received[0].signature_ok


def test_retried_after_a_500_then_delivered(endpoint, receiver, order):
    receiver.answers = [500]
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    assert delivery.deliver_batch([row.pk]) == {row.pk: delivery.RETRY}
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.PENDING
    assert row.next_attempt_at > timezone.now()
    assert "500" in row.last_error
    # Not due yet: nothing posted.
    assert delivery.deliver_batch([row.pk]) == {row.pk: delivery.NOT_CLAIMED}
    due_now(row)
    assert delivery.deliver_batch([row.pk]) == {row.pk: delivery.SENT}
    first, second = receiver.received
    # The same event, signed again for its own attempt.
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert [a.status_code for a in row.attempt_log.all()] == [500, 200]
    assert row.attempt_log.first().response == "answer 500"
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_gives_up_after_max_attempts(endpoint, receiver, order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "MAX_ATTEMPTS": 2}
    receiver.answers = [503, 503]
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.RETRY
    due_now(row)
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.FAILED
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.FAILED
    assert row.attempt_log.count() == 2


def test_a_refused_connection_is_logged_and_retried(endpoint, receiver, order):
    receiver.stop()
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.RETRY
    (attempt,) = row.attempt_log.all()
    assert attempt.status_code is None
    assert "ConnectionRefusedError" in attempt.error


def test_disabled_after_a_run_of_failures(endpoint, receiver, make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "WEBHOOK_DISABLE_AFTER_FAILURES": 3,
    }
    receiver.answers = [500] * 10
    orders = [make_order() for _ in range(4)]
    for order in orders:
        services.set_status(order, "confirmed")
    rows = deliveries()
    for row in rows[:2]:
        assert delivery.deliver_batch([row.pk])[row.pk] == delivery.RETRY
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 2
    delivery.deliver_batch([rows[2].pk])
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_at is not None
    assert "3 failed attempts in a row" in endpoint.disabled_reason
    # What is still queued for it fails without a request.
    assert delivery.deliver_batch([rows[3].pk])[rows[3].pk] == delivery.FAILED
    assert len(receiver.received) == 3
    rows[3].refresh_from_db()
    assert rows[3].last_error == "The endpoint is disabled."
    # And no new deliveries are written for it.
    services.set_status(orders[0], "processing")
    assert WebhookDelivery.objects.count() == 4


def test_a_success_resets_the_run(endpoint, receiver, order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "WEBHOOK_DISABLE_AFTER_FAILURES": 2,
    }
    receiver.answers = [500, 200, 500]
    services.set_status(order, "confirmed")
    services.set_status(order, "processing")
    first, second = deliveries()
    delivery.deliver_batch([first.pk])
    due_now(first)
    delivery.deliver_batch([first.pk])
    delivery.deliver_batch([second.pk])
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 1


def test_resend(endpoint, receiver, order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "MAX_ATTEMPTS": 1}
    receiver.answers = [500]
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.FAILED
    with transaction.atomic():
        assert delivery.resend([row]) == 1
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.PENDING and row.attempts == 0
    assert delivery.resend([row]) == 0  # pending already
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.SENT
    assert len(receiver.received) == 2
    assert receiver.received[1].signature_ok


def test_sweeper_recovers_an_expired_lease(endpoint, receiver, order):
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    # A worker claimed it, then died.
    assert engine.claim_rows(WebhookDelivery, [row.pk], uuid.uuid4()).exists()
    WebhookDelivery.objects.filter(pk=row.pk).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    result = delivery.sweep()
    assert result["recovered"] == 1
    row.refresh_from_db()
    assert row.state == WebhookDeliveryState.PENDING
    assert "lease expired" in row.last_error


# Addresses ----------------------------------------------------------------------------


@pytest.fixture
def no_private(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
    }


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hooks",
        "javascript:alert(1)",
        "http:///nohost",
        "https://user:pw@example.com/",
        "http://127.0.0.1:8000/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
    ],
)
def test_refused_targets(no_private, url):
    with pytest.raises(UnsafeWebhookTarget):
        targets.validate_url(url)


def test_public_addresses_pass(no_private):
    targets.validate_url("https://93.184.215.14/hooks")
    targets.validate_url("http://[2606:4700::1111]:8080/x")


def test_loopback_allowed_by_the_setting():
    targets.validate_url("http://127.0.0.1:9/")


def test_checked_again_at_send_time(no_private, endpoint, receiver, order, monkeypatch):
    """A name that resolved to the internet when saved, and to loopback now
    (DNS rebinding), gets no request."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url="http://hooks.example.com:%d/x" % receiver.server.server_address[1]
    )
    answers = {"hooks.example.com": "127.0.0.1"}
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):  # DNS is outside the machine
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    services.set_status(order, "confirmed")
    (row,) = deliveries()
    assert delivery.deliver_batch([row.pk])[row.pk] == delivery.RETRY
    assert receiver.received == []
    (attempt,) = row.attempt_log.all()
    assert attempt.error.startswith("UnsafeWebhookTarget")
    assert "127.0.0.1" in attempt.error


def test_receiver_helper_checks_signatures():
    """The test server's own check fails on a tampered body (it can fail)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signing.headers(secret, "evt", 1614265330, b"{}")
    assert signature_ok(secret, headers, b"{}")
    assert not signature_ok(secret, headers, b"{} ")


def test_a_bounce_reported_by_the_esp_raises_its_event(
    endpoint, order, django_capture_on_commit_callbacks
):
    """Through django-anymail's tracking signal, as its webhook views send it."""
    import datetime as dt

    from anymail.signals import AnymailTrackingEvent, tracking

    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    Notification.objects.filter(pk=row.pk).update(
        state=NotificationState.SENT, provider="postmark", provider_message_id="pm-9"
    )
    event = AnymailTrackingEvent(
        event_type="bounced",
        timestamp=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc),
        event_id="bounce-1",
        message_id="pm-9",
        recipient=row.recipient,
        description="550 mailbox unavailable",
        esp_event={},
    )
    with django_capture_on_commit_callbacks(execute=True):
        tracking.send(sender=object, event=event, esp_name="Postmark")
    (webhook,) = deliveries(event_type="notification.bounced")
    data = json.loads(webhook.body)["data"]
    assert data["notification"]["id"] == row.pk
    assert data["notification"]["state"] == "bounced"
    assert "550 mailbox unavailable" in data["notification"]["error"]


def test_https_certificates_are_verified(endpoint, order, tmp_path, monkeypatch):
    """The TLS connection to the checked address still verifies the
    certificate against the URL's host name: a self-signed one is refused,
    and accepted once trusted (as a shop's own CA would be)."""
    from tests.webhook_receiver import self_signed_https

    tls = Receiver()
    self_signed_https(tls, tmp_path)
    tls.start()
    try:
        port = tls.server.server_address[1]
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            url="https://localhost:%d/hooks" % port
        )
        services.set_status(order, "confirmed")
        (row,) = deliveries()
        assert delivery.deliver_batch([row.pk])[row.pk] == delivery.RETRY
        (attempt,) = row.attempt_log.all()
        assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
        assert tls.received == []
        # Trusted (OpenSSL reads SSL_CERT_FILE when loading the default CAs).
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        due_now(row)
        assert delivery.deliver_batch([row.pk])[row.pk] == delivery.SENT
        tls.secret = endpoint.secret
        (request,) = tls.received
        assert request.headers["host"] == "localhost:%d" % port
        assert signature_ok(endpoint.secret, request.headers, request.body)
    finally:
        tls.stop()


def test_old_finished_deliveries_are_pruned(endpoint, make_order, settings):
    from django.core.management import call_command

    orders = [make_order() for _ in range(3)]
    for order in orders:
        services.set_status(order, "confirmed")
    old_sent, old_pending, new_failed = deliveries()
    long_ago = timezone.now() - datetime.timedelta(days=400)
    WebhookDelivery.objects.filter(pk=old_sent.pk).update(
        state=WebhookDeliveryState.SENT, created_at=long_ago
    )
    WebhookDelivery.objects.filter(pk=old_pending.pk).update(created_at=long_ago)
    WebhookDelivery.objects.filter(pk=new_failed.pk).update(
        state=WebhookDeliveryState.FAILED
    )
    out = io.StringIO()
    call_command("order_updates_prune", "--dry-run", stdout=out)
    assert "Would delete 1 old webhook delivery(ies)." in out.getvalue()
    assert len(deliveries()) == 3  # counted, kept
    out = io.StringIO()
    call_command("order_updates_prune", stdout=out)
    assert "Deleted 1 old webhook delivery(ies)." in out.getvalue()
    assert [row.pk for row in deliveries()] == [old_pending.pk, new_failed.pk]
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "PRUNE_ROWS_AFTER_DAYS": None}
    WebhookDelivery.objects.filter(pk=new_failed.pk).update(created_at=long_ago)
    assert delivery.prune() == 0
    assert delivery.prune(rows_days=30) == 1


# Shipment, tracking and estimate events ----------------------------------------------


def scan(status, day, **fields):
    return services.Scan(
        occurred_at=datetime.datetime(2026, 3, day, 9, tzinfo=UTC),
        status=status,
        **fields,
    )


def bodies(event_type):
    return [json.loads(row.body) for row in deliveries(event_type=event_type)]


def test_a_shipment_update_raises_shipment_updated_with_the_shipment(endpoint, order):
    shipment = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        more_tracking_numbers=["1Z999AA10123456795"],
        service="express",
        estimated_delivery=datetime.date(2026, 3, 6),
        notify=False,
    )
    created = bodies("shipment.created")[0]["data"]["shipment"]
    assert created["tracking_numbers"] == ["1Z999AA10123456784", "1Z999AA10123456795"]
    assert created["estimated_delivery"] == {
        "earliest": "2026-03-06",
        "latest": "2026-03-06",
    }
    services.update_shipment(shipment, tracking_number="1Z999AA10123456802")
    (updated,) = bodies("shipment.updated")
    assert updated["data"]["event"]["data"]["changed"] == ["tracking_number"]
    data = updated["data"]["shipment"]
    assert data["id"] == shipment.pk
    assert data["carrier"] == "ups" and data["carrier_name"] == "UPS"
    assert data["service"] == "express"
    assert data["tracking_numbers"] == ["1Z999AA10123456802", "1Z999AA10123456795"]
    assert data["tracking_url"].startswith("https://")
    assert "1Z999AA10123456802" in data["tracking_url"]
    assert data["tracking_status"] == "pending"
    assert data["estimated_delivery"]["latest"] == "2026-03-06"
    assert "scan" not in data
    # Nothing changed: no event, no delivery.
    services.update_shipment(shipment, tracking_number="1Z999AA10123456802")
    assert len(deliveries(event_type="shipment.updated")) == 1


def test_a_free_text_carrier_keeps_its_name_and_link(endpoint, order):
    shipment = services.add_shipment(
        order,
        carrier_name="Fahrradkurier Müller",
        tracking_number="M-17",
        tracking_url="https://kurier.example.com/t/M-17",
        notify=False,
    )
    services.update_shipment(shipment, service="same day")
    data = bodies("shipment.updated")[0]["data"]["shipment"]
    assert data["carrier"] == ""
    assert data["carrier_name"] == "Fahrradkurier Müller"
    assert data["tracking_url"] == "https://kurier.example.com/t/M-17"


def test_scans_raise_tracking_updated_with_the_deciding_scan(endpoint, order):
    services.set_status(order, "processing")
    shipment = services.add_shipment(
        order, carrier="dhl", tracking_number="JD014600006281230704", notify=False
    )
    services.record_tracking_events(
        shipment,
        [
            scan("in_transit", 3, location="Leipzig", message="Departed hub"),
            scan("out_for_delivery", 4, location="Berlin", message="With courier"),
        ],
        source="generic",
    )
    (tracking,) = bodies("tracking.updated")
    assert tracking["data"]["event"]["kind"] == "tracking_updated"
    data = tracking["data"]["shipment"]
    assert data["tracking_status"] == "out_for_delivery"
    assert data["carrier_name"] == "DHL"
    assert data["scan"] == {
        "occurred_at": "2026-03-04T09:00:00Z",
        "status": "out_for_delivery",
        "substatus": "",
        "location": "Berlin",
        "raw_status": "",
        "message": "With courier",
    }
    # The order followed its shipment: its status change carries the shipment
    # too, but not the scan.
    moved = bodies("order.status_changed")[-1]["data"]
    assert moved["event"]["to_status"] == "out_for_delivery"
    assert moved["shipment"]["id"] == shipment.pk and "scan" not in moved["shipment"]
    # A replay is stored once and says nothing new.
    services.record_tracking_events(
        shipment,
        [scan("out_for_delivery", 4, location="Berlin", message="With courier")],
        source="generic",
    )
    assert len(deliveries(event_type="tracking.updated")) == 1


def test_a_later_estimate_is_a_delay_an_earlier_one_is_not(endpoint, order):
    shipment = services.add_shipment(order, tracking_number="P1", notify=False)
    services.set_estimated_delivery(shipment, datetime.date(2026, 3, 6))
    assert not deliveries(event_type="order.delayed")  # a first estimate
    services.set_estimated_delivery(shipment, datetime.date(2026, 3, 5))
    assert not deliveries(event_type="order.delayed")  # sooner: good news
    services.set_estimated_delivery(
        shipment, datetime.date(2026, 3, 8), datetime.date(2026, 3, 9)
    )
    (delayed,) = bodies("order.delayed")
    assert delayed["data"]["event"]["kind"] == "estimate_changed"
    assert delayed["data"]["event"]["data"]["later"] is True
    assert delayed["data"]["shipment"]["estimated_delivery"] == {
        "earliest": "2026-03-08",
        "latest": "2026-03-09",
    }


def test_shipment_data_costs_two_queries_for_a_whole_wave(endpoint, make_order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def wave(size):
        orders = [make_order() for _ in range(size)]
        with CaptureQueriesContext(connection) as queries:
            services.bulk_add_shipments(
                [
                    (order, {"tracking_number": "W%d" % i, "carrier": "ups"})
                    for i, order in enumerate(orders)
                ],
                notify=False,
            )
        return [
            query["sql"]
            for query in queries
            if "order_updates_webhook" in query["sql"]
            or query["sql"].startswith('SELECT "order_updates_shipment')
        ]

    few, many = wave(3), wave(40)
    # The subscribed endpoints, the shipments, their further numbers, the insert.
    assert len(few) == len(many) == 4, many
    assert len(deliveries(event_type="shipment.created")) == 43
    bodies_ = bodies("shipment.created")
    assert {body["data"]["shipment"]["carrier_name"] for body in bodies_} == {"UPS"}


def test_no_shipment_queries_without_a_subscriber(order, django_assert_num_queries):
    WebhookEndpoint.objects.create(
        url="https://erp.example.com/hooks",
        event_types=[WebhookEventType.STATUS_CHANGED],
    )
    shipment = services.add_shipment(order, tracking_number="P1", notify=False)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        services.update_shipment(shipment, tracking_number="P2", notify=False)
    assert not [q for q in queries if "order_updates_shipmenttracking" in q["sql"]]
    assert not WebhookDelivery.objects.exists()
