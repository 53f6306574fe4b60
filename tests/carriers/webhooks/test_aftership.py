"""AfterShip's tracking webhook, with its published example payload."""

import base64
import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from order_updates import services
from order_updates.models import OrderEvent, TrackingEvent
from tests.carriers.webhooks.conftest import payload, post

URL = "order_updates_tracking:aftership"
NUMBER = "9361289676091361892011"


def signature(body: bytes, secret: str) -> str:
    # As AfterShip documents it: base64 of the HMAC-SHA256 of the raw body.
    return base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()
    ).decode()


@pytest.fixture
def body():
    return payload("aftership_tracking_update.json")


def test_a_signed_update_is_recorded(client, webhook_secrets, shipped, body):
    shipment = shipped(NUMBER, "usps")
    response = post(
        client,
        reverse(URL),
        body,
        **{"aftership-hmac-sha256": signature(body, "as-new")},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "stored": 2, "unknown": []}
    shipment.refresh_from_db()
    assert shipment.tracking_status == "in_transit"
    houston = TrackingEvent.objects.get(raw_status="03")
    assert houston.location == "HOUSTON, TX 77032"
    assert houston.message == "USPS in possession of item"
    assert houston.occurred_at.isoformat() == "2021-01-03T17:50:00+00:00"
    assert shipment.estimated_delivery_to.isoformat() == "2021-01-06"
    assert services.get_status(shipment.order).code == "shipped"


def test_the_old_secret_still_works_during_rotation(
    client, webhook_secrets, shipped, body
):
    shipped(NUMBER)
    response = post(
        client,
        reverse(URL),
        body,
        **{"aftership-hmac-sha256": signature(body, "as-old")},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing aftership-hmac-sha256 header."),
        ({"aftership-hmac-sha256": "bm9wZQ=="}, "Invalid signature."),
    ],
)
def test_bad_signatures_store_nothing(
    client, webhook_secrets, shipped, body, headers, message
):
    shipped(NUMBER)
    before = OrderEvent.objects.count()
    response = post(client, reverse(URL), body, **headers)
    assert (response.status_code, response.json()) == (400, {"error": message})
    assert not TrackingEvent.objects.exists()
    assert OrderEvent.objects.count() == before


def test_a_tampered_body_fails_its_signature(client, webhook_secrets, shipped, body):
    shipped(NUMBER)
    good = signature(body, "as-new")
    tampered = body.replace(b'"InTransit"', b'"Delivered"', 1)
    response = post(client, reverse(URL), tampered, **{"aftership-hmac-sha256": good})
    assert response.status_code == 400


def test_replay_is_idempotent(client, webhook_secrets, shipped, body):
    shipped(NUMBER)
    headers = {"aftership-hmac-sha256": signature(body, "as-new")}
    post(client, reverse(URL), body, **headers)
    events = OrderEvent.objects.count()
    again = post(client, reverse(URL), body, **headers)
    assert again.json() == {"accepted": 1, "stored": 0, "unknown": []}
    assert OrderEvent.objects.count() == events


def test_unknown_tracking_number_is_acknowledged(client, webhook_secrets, body):
    response = post(
        client,
        reverse(URL),
        body,
        **{"aftership-hmac-sha256": signature(body, "as-new")},
    )
    assert response.status_code == 200
    assert response.json()["unknown"] == [NUMBER]


def test_other_events_are_acknowledged_and_ignored(client, webhook_secrets, shipped):
    shipped(NUMBER)
    data = json.loads(payload("aftership_tracking_update.json"))
    data["event"] = "tracking_pending_time"
    body = json.dumps(data).encode()
    response = post(
        client,
        reverse(URL),
        body,
        **{"aftership-hmac-sha256": signature(body, "as-new")},
    )
    assert response.json() == {"accepted": 0, "stored": 0, "unknown": []}


def test_an_unknown_tag_is_a_malformed_payload(client, webhook_secrets, shipped):
    shipped(NUMBER)
    data = json.loads(payload("aftership_tracking_update.json"))
    data["msg"]["checkpoints"][1]["tag"] = "Teleported"
    body = json.dumps(data).encode()
    response = post(
        client,
        reverse(URL),
        body,
        **{"aftership-hmac-sha256": signature(body, "as-new")},
    )
    assert response.status_code == 400
    assert "msg.checkpoints[1].tag 'Teleported'" in response.json()["error"]
    assert not TrackingEvent.objects.exists()


def test_not_configured_is_not_found(client, body):
    response = post(client, reverse(URL), body)
    assert response.status_code == 404


def test_only_post(client, webhook_secrets):
    assert client.get(reverse(URL)).status_code == 405


def test_a_status_without_a_checkpoint_comes_from_the_tracking(
    client, webhook_secrets, shipped
):
    shipment = shipped(NUMBER)
    data = json.loads(payload("aftership_tracking_update.json"))
    data["msg"].update(tag="Expired", subtag="Expired_001", subtag_message="Expired")
    body = json.dumps(data).encode()
    post(
        client,
        reverse(URL),
        body,
        **{"aftership-hmac-sha256": signature(body, "as-new")},
    )
    shipment.refresh_from_db()
    assert shipment.tracking_status == "expired"
    expired = TrackingEvent.objects.get(status="expired")
    assert expired.occurred_at.timestamp() == data["ts"]
    assert expired.dedupe_key == "id:" + data["event_id"]
