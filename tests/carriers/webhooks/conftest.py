"""Fixtures for the tracking webhook tests: secrets configured, a shipped order."""

import json
from pathlib import Path

import pytest

from order_updates import services

PAYLOADS = Path(__file__).parent.parent / "payloads"


def payload(name: str) -> bytes:
    """A provider's published example payload, as raw bytes."""
    return (PAYLOADS / name).read_bytes()


@pytest.fixture
def webhook_secrets(settings, db):
    """Each provider configured with two secrets: the current and the next one."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "TRACKING_WEBHOOKS": {
            "generic": {"SECRETS": ["generic-old", "generic-new"]},
            "aftership": {"SECRETS": ["as-old", "as-new"]},
            "easypost": {"SECRETS": ["ep-old", "ep-new"]},
        },
    }


@pytest.fixture
def shipped(order):
    """An order in processing with one shipment, ready for carrier news."""

    def make(tracking_number, carrier=""):
        services.set_status(order, "confirmed", notify=False)
        services.set_status(order, "processing", notify=False)
        return services.add_shipment(
            order, carrier=carrier, tracking_number=tracking_number, notify=False
        )

    return make


def post(client, url, body, **headers):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return client.post(url, data=body, content_type="application/json", headers=headers)
