"""Our own signed tracking webhook format: batches, reordering, size, timestamps."""

import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from order_updates import services
from order_updates.carriers.webhooks.generic import sign
from order_updates.models import OrderEvent, TrackingEvent
from tests.carriers.webhooks.conftest import post

URL = "order_updates_tracking:generic"


def headers(body: bytes, secret="generic-new", timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    # The documented scheme: hex HMAC-SHA256 of "<timestamp>.<raw body>".
    digest = hmac.new(
        secret.encode(), b"%d.%s" % (timestamp, body), hashlib.sha256
    ).hexdigest()
    return {
        "X-Order-Updates-Timestamp": str(timestamp),
        "X-Order-Updates-Signature": "sha256=" + digest,
    }


def event(number, status, when, **more):
    return {"tracking_number": number, "status": status, "occurred_at": when, **more}


def encode(events):
    return json.dumps({"events": events}).encode()


def test_sign_matches_the_documented_scheme():
    body = b'{"events": []}'
    assert (
        sign(body, "s", 1700000000)
        == headers(body, "s", 1700000000)["X-Order-Updates-Signature"]
    )


def test_a_batch_for_several_shipments(client, webhook_secrets, make_order):
    first, second = make_order(), make_order()
    a = services.add_shipment(first, carrier="ups", tracking_number="A1", notify=False)
    b = services.add_shipment(second, tracking_number="B1", notify=False)
    body = encode(
        [
            event("A1", "in_transit", "2026-11-30T08:00:00+01:00", id="a-1"),
            event(
                "B1",
                "exception",
                "2026-11-30T09:00:00Z",
                substatus="address",
                location="Lyon, FR",
                raw_status="AD",
                message="Adresse incomplète",
                estimated_delivery={"earliest": "2026-12-02", "latest": "2026-12-04"},
            ),
            event("ZZZ", "delivered", "2026-11-30T09:00:00Z"),
        ]
    )
    response = post(client, reverse(URL), body, **headers(body))
    assert response.json() == {"accepted": 2, "stored": 2, "unknown": ["ZZZ"]}
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.tracking_status == "in_transit"
    assert (b.tracking_status, b.tracking_substatus) == ("exception", "address")
    assert (
        b.estimated_delivery_from.isoformat(),
        b.estimated_delivery_to.isoformat(),
    ) == (
        "2026-12-02",
        "2026-12-04",
    )


def test_both_secrets_work_during_rotation(client, webhook_secrets, order):
    services.add_shipment(order, tracking_number="K1", notify=False)
    for secret in ("generic-old", "generic-new"):
        body = encode([event("K1", "in_transit", "2026-11-30T08:00:00Z", id=secret)])
        response = post(client, reverse(URL), body, **headers(body, secret=secret))
        assert response.status_code == 200
    assert TrackingEvent.objects.count() == 2


def test_reordered_batches_end_in_the_newest_status(client, webhook_secrets, order):
    shipment = services.add_shipment(order, tracking_number="R1", notify=False)
    newer = encode([event("R1", "delivered", "2026-11-30T12:00:00Z")])
    older = encode([event("R1", "out_for_delivery", "2026-11-30T08:00:00Z")])
    post(client, reverse(URL), newer, **headers(newer))
    post(client, reverse(URL), older, **headers(older))
    shipment.refresh_from_db()
    assert shipment.tracking_status == "delivered"
    assert TrackingEvent.objects.count() == 2


def test_replayed_events_without_ids_are_stored_once(client, webhook_secrets, order):
    services.add_shipment(order, tracking_number="D1", notify=False)
    body = encode([event("D1", "in_transit", "2026-11-30T08:00:00Z", message="Hub")])
    for _ in range(3):
        assert post(client, reverse(URL), body, **headers(body)).status_code == 200
    assert TrackingEvent.objects.count() == 1


def test_nul_characters_and_lone_surrogates_do_not_lose_the_batch(
    client, webhook_secrets, order
):
    """Text PostgreSQL cannot store is made storable, not answered with a 500
    that the provider would retry for ever.
    """
    services.add_shipment(order, tracking_number="N1", notify=False)
    body = encode(
        [
            event(
                "N1\x00",
                "in_transit",
                "2026-11-30T08:00:00Z",
                id="n\x00-1",
                location="Ly\x00on",
                raw_status="\x00IT",
                message="Arriv\ud800ed",
            )
        ]
    )
    assert b"\\u0000" in body and b"\\ud800" in body  # as JSON escapes them
    response = post(client, reverse(URL), body, **headers(body))
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "stored": 1, "unknown": []}
    stored = TrackingEvent.objects.get()
    assert (stored.location, stored.raw_status, stored.message) == (
        "Lyon",
        "IT",
        "Arriv\ufffded",
    )


def test_stale_or_future_timestamps_are_refused(client, webhook_secrets, order):
    services.add_shipment(order, tracking_number="T1", notify=False)
    body = encode([event("T1", "in_transit", "2026-11-30T08:00:00Z")])
    stale = post(
        client, reverse(URL), body, **headers(body, timestamp=int(time.time()) - 3600)
    )
    assert stale.status_code == 400
    assert "seconds off" in stale.json()["error"]
    future = post(
        client, reverse(URL), body, **headers(body, timestamp=int(time.time()) + 3600)
    )
    assert future.json() == {"error": "The timestamp is more than 300 seconds off."}
    assert not TrackingEvent.objects.exists()


@pytest.mark.parametrize(
    ("make_headers", "message"),
    [
        (lambda body: {}, "Missing or invalid X-Order-Updates-Timestamp header."),
        (
            lambda body: {"X-Order-Updates-Timestamp": str(int(time.time()))},
            "Missing X-Order-Updates-Signature header.",
        ),
        (lambda body: headers(body, secret="guess"), "Invalid signature."),
    ],
)
def test_bad_signatures(client, webhook_secrets, order, make_headers, message):
    services.add_shipment(order, tracking_number="S1", notify=False)
    body = encode([event("S1", "delivered", "2026-11-30T08:00:00Z")])
    before = OrderEvent.objects.count()
    response = post(client, reverse(URL), body, **make_headers(body))
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert OrderEvent.objects.count() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "The body is not JSON"),
        (b"[]", 'The body must be {"events": [...]}.'),
        (encode([{"status": "in_transit"}]), "events[0].tracking_number is missing."),
        (
            encode([event("M1", "lost", "2026-11-30T08:00:00Z")]),
            "events[0].status must be one of",
        ),
        (
            encode([event("M1", "in_transit", "2026-11-30T08:00:00")]),
            "events[0].occurred_at has no UTC offset",
        ),
        (
            encode([event("M1", "in_transit", "yesterday")]),
            "events[0].occurred_at is not an ISO 8601 time",
        ),
    ],
)
def test_malformed_payloads_get_a_message(
    client, webhook_secrets, order, body, message
):
    services.add_shipment(order, tracking_number="M1", notify=False)
    response = post(client, reverse(URL), body, **headers(body))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not TrackingEvent.objects.exists()


def test_a_bad_event_in_a_batch_stores_nothing_of_it(client, webhook_secrets, order):
    services.add_shipment(order, tracking_number="G1", notify=False)
    body = encode(
        [
            event("G1", "in_transit", "2026-11-30T08:00:00Z"),
            event("G1", "exception", "2026-11-30T09:00:00Z", substatus="meteor"),
        ]
    )
    response = post(client, reverse(URL), body, **headers(body))
    assert response.status_code == 400
    assert not TrackingEvent.objects.exists()


def test_body_over_the_limit_is_413(client, webhook_secrets, settings, order):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "TRACKING_WEBHOOK_MAX_BYTES": 200,
    }
    body = encode([event("X" * 300, "in_transit", "2026-11-30T08:00:00Z")])
    response = post(client, reverse(URL), body, **headers(body))
    assert response.status_code == 413
