"""Our own tracking webhook format: any integration or aggregator can post it.

``POST`` JSON to the ``tracking_webhook_generic`` URL with two headers:

* ``X-Order-Updates-Timestamp``: the Unix time of sending;
* ``X-Order-Updates-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed
  with a secret of ``TRACKING_WEBHOOKS["generic"]["SECRETS"]``, of the
  timestamp, a dot, and the raw body.

A request whose timestamp is more than ``TRACKING_WEBHOOK_TOLERANCE_SECONDS``
off is refused, so a captured request cannot be replayed later. The body::

    {"events": [{
        "id": "scan-1",                      # optional: deduplicates
        "tracking_number": "1Z999AA10123456784",
        "carrier": "ups",                    # optional
        "status": "in_transit",              # the normalized status
        "substatus": "",                     # optional reason
        "occurred_at": "2026-11-30T08:15:00+01:00",
        "location": "Köln, DE",              # optional
        "raw_status": "I",                   # optional: the carrier's code
        "message": "Departed facility",      # optional
        "estimated_delivery": {"earliest": "2026-12-02", "latest": "2026-12-03"}
    }]}
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from order_updates.carriers.webhooks.base import (
    BaseTrackingWebhookView,
    TrackingUpdate,
    WebhookError,
    estimate_from,
    hmac_sha256,
    parse_time,
    text,
)
from order_updates.conf import app_settings
from order_updates.core.tracking import Scan
from order_updates.models import TrackingStatus, TrackingSubstatus

TIMESTAMP_HEADER = "X-Order-Updates-Timestamp"
SIGNATURE_HEADER = "X-Order-Updates-Signature"


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Order-Updates-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac_sha256(secret.encode(), message).hex()


class GenericTrackingWebhookView(BaseTrackingWebhookView):
    """Our own documented, HMAC-signed JSON format (see the module docstring)."""

    provider = "generic"

    def signature_valid(self, request: HttpRequest, body: bytes, secret: bytes) -> bool:
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not timestamp.isdigit() or not signature:
            return False
        expected = sign(body, secret.decode(), int(timestamp))
        return hmac.compare_digest(expected.encode(), signature.encode())

    def signature_error(self, request: HttpRequest) -> str:
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not timestamp.isdigit():
            return _("Missing or invalid %s header.") % TIMESTAMP_HEADER
        if not request.headers.get(SIGNATURE_HEADER):
            return _("Missing %s header.") % SIGNATURE_HEADER
        return _("Invalid signature.")

    def check_request(self, request: HttpRequest) -> None:
        timestamp = int(request.headers[TIMESTAMP_HEADER])  # signed, so digits
        tolerance = app_settings.TRACKING_WEBHOOK_TOLERANCE_SECONDS
        if abs(time.time() - timestamp) > tolerance:
            raise WebhookError(
                _("The timestamp is more than %d seconds off.") % tolerance
            )

    def parse(self, payload: Any, request: HttpRequest) -> list[TrackingUpdate]:
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise WebhookError(_('The body must be {"events": [...]}.'))
        updates: dict[tuple[str, str], TrackingUpdate] = {}
        for index, item in enumerate(payload["events"]):
            path = "events[%d]" % index
            if not isinstance(item, dict):
                raise WebhookError(_("%s must be an object.") % path)
            number = text(item.get("tracking_number")).strip()
            if not number:
                raise WebhookError(_("%s.tracking_number is missing.") % path)
            status = item.get("status")
            if status not in TrackingStatus.values:
                raise WebhookError(
                    _("%(path)s.status must be one of %(known)s, not %(value)r.")
                    % {
                        "path": path,
                        "known": ", ".join(TrackingStatus.values),
                        "value": status,
                    }
                )
            substatus = text(item.get("substatus"))
            if substatus and substatus not in TrackingSubstatus.values:
                raise WebhookError(
                    _("%(path)s.substatus must be one of %(known)s, not %(value)r.")
                    % {
                        "path": path,
                        "known": ", ".join(TrackingSubstatus.values),
                        "value": substatus,
                    }
                )
            carrier = text(item.get("carrier"))
            update = updates.setdefault(
                (number, carrier), TrackingUpdate(number, carrier)
            )
            update.scans.append(
                Scan(
                    occurred_at=parse_time(
                        item.get("occurred_at"), path + ".occurred_at"
                    ),
                    status=status,
                    substatus=substatus,
                    location=text(item.get("location")),
                    raw_status=text(item.get("raw_status")),
                    message=text(item.get("message")),
                    event_id=text(item.get("id")),
                )
            )
            estimate = item.get("estimated_delivery")
            if estimate is not None:
                if not isinstance(estimate, dict):
                    raise WebhookError(
                        _("%s.estimated_delivery must be an object.") % path
                    )
                update.estimate = estimate_from(
                    estimate.get("earliest"),
                    estimate.get("latest"),
                    path + ".estimated_delivery",
                )
        return list(updates.values())
