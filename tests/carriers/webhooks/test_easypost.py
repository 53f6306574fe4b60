"""EasyPost's tracker events, with a payload in EasyPost's published Event format."""

import hashlib
import hmac
import json
import unicodedata

import pytest
from django.urls import reverse

from order_updates import services
from order_updates.models import Notification, TrackingEvent
from tests.carriers.webhooks.conftest import payload, post

URL = "order_updates_tracking:easypost"
NUMBER = "EZ4000000004"


def signature(body: bytes, secret: str) -> str:
    # As EasyPost's client libraries validate it: NFKD-normalized secret, hex digest.
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


@pytest.fixture
def body():
    return payload("easypost_tracker_updated.json")


def test_a_signed_event_is_recorded(client, webhook_secrets, shipped, body):
    shipment = shipped(NUMBER, "usps")
    response = post(
        client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-new")}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "stored": 4, "unknown": []}
    shipment.refresh_from_db()
    assert shipment.tracking_status == "out_for_delivery"
    assert services.get_status(shipment.order).code == "out_for_delivery"
    facility = TrackingEvent.objects.get(raw_status="in_transit:arrived_at_facility")
    assert (facility.status, facility.location) == ("in_transit", "NORTH HOUSTON, TX")
    assert shipment.estimated_delivery_to.isoformat() == "2026-11-28"
    # Through shipped to out for delivery: one message, the last one.
    assert list(
        Notification.objects.filter(channel="email").values_list("type", flat=True)
    ) == ["out_for_delivery"]


def test_rotation_and_bad_signatures(client, webhook_secrets, shipped, body):
    shipped(NUMBER)
    old = post(
        client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-old")}
    )
    assert old.status_code == 200
    wrong = post(
        client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-other")}
    )
    assert (wrong.status_code, wrong.json()) == (400, {"error": "Invalid signature."})
    missing = post(client, reverse(URL), body)
    assert missing.json() == {"error": "Missing X-Hmac-Signature header."}


def test_a_failed_attempt_detail(client, webhook_secrets, shipped):
    shipment = shipped(NUMBER)
    data = json.loads(payload("easypost_tracker_updated.json"))
    data["result"]["tracking_details"].append(
        {
            "object": "TrackingDetail",
            "message": "Delivery Attempted - No Access to Delivery Location",
            "description": "",
            "status": "failure",
            "status_detail": "attempted_delivery",
            "datetime": "2026-11-28T15:02:00Z",
            "source": "USPS",
            "carrier_code": "",
            "tracking_location": {"object": "TrackingLocation", "city": "CHARLESTON"},
        }
    )
    body = json.dumps(data).encode()
    post(client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-new")})
    shipment.refresh_from_db()
    assert shipment.tracking_status == "attempt_fail"


def test_not_an_event_is_malformed(client, webhook_secrets):
    body = b'{"object": "Tracker"}'
    response = post(
        client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-new")}
    )
    assert response.status_code == 400
    assert "not 'Event'" in response.json()["error"]


def test_other_events_are_ignored(client, webhook_secrets):
    body = json.dumps({"object": "Event", "description": "batch.updated"}).encode()
    response = post(
        client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-new")}
    )
    assert response.json() == {"accepted": 0, "stored": 0, "unknown": []}


def test_a_status_without_a_detail_comes_from_the_tracker(
    client, webhook_secrets, shipped
):
    shipment = shipped(NUMBER)
    data = json.loads(payload("easypost_tracker_updated.json"))
    data["result"].update(status="cancelled", status_detail="cancelled")
    body = json.dumps(data).encode()
    post(client, reverse(URL), body, **{"X-Hmac-Signature": signature(body, "ep-new")})
    shipment.refresh_from_db()
    assert shipment.tracking_status == "expired"
    assert TrackingEvent.objects.get(status="expired").raw_status == (
        "cancelled:cancelled"
    )
