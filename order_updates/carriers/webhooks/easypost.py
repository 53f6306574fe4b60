"""EasyPost's tracker webhooks (``Event`` objects about ``Tracker`` results).

EasyPost signs each request, when the webhook has a ``webhook_secret``, with the
``X-Hmac-Signature`` header: ``hmac-sha256-hex=`` and the hex HMAC-SHA256 of the
raw body, keyed with the secret (Unicode NFKD-normalized, UTF-8). The body is an
``Event`` whose ``description`` is ``tracker.created`` or ``tracker.updated`` and
whose ``result`` is the ``Tracker``: ``tracking_code``, ``carrier``, ``status``,
``status_detail``, ``est_delivery_date`` and ``tracking_details`` (the scans,
each with ``datetime``, ``status``, ``status_detail``, ``message`` and
``tracking_location``). Other events are acknowledged and ignored.
"""

from __future__ import annotations

import hmac
import unicodedata
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
from order_updates.core.tracking import Scan
from order_updates.models import TrackingStatus, TrackingSubstatus

SIGNATURE_HEADER = "X-Hmac-Signature"

#: EasyPost tracker status → normalized status.
STATUSES = {
    "unknown": TrackingStatus.PENDING,
    "pre_transit": TrackingStatus.INFO_RECEIVED,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "delivered": TrackingStatus.DELIVERED,
    "return_to_sender": TrackingStatus.EXCEPTION,
    "failure": TrackingStatus.EXCEPTION,
    "cancelled": TrackingStatus.EXPIRED,
    "error": TrackingStatus.EXCEPTION,
}

#: EasyPost status_detail → sub-status (those with a reason worth keeping).
DETAILS = {
    "address_correction": TrackingSubstatus.ADDRESS,
    "incorrect_address": TrackingSubstatus.ADDRESS,
    "refused": TrackingSubstatus.REFUSED,
    "damaged": TrackingSubstatus.DAMAGED,
    "lost": TrackingSubstatus.LOST,
    "customs_hold": TrackingSubstatus.CUSTOMS,
    "held": TrackingSubstatus.HELD,
    "delayed": TrackingSubstatus.DELAYED,
    "weather_delay": TrackingSubstatus.DELAYED,
    "return": TrackingSubstatus.RETURNING_TO_SENDER,
    "returned_to_sender": TrackingSubstatus.RETURNED_TO_SENDER,
}

#: status_detail values that mean a failed delivery attempt.
ATTEMPT_DETAILS = frozenset({"attempted_delivery", "delivery_exception"})

#: EasyPost carrier name → registry code, where they differ.
CARRIERS = {
    "UPS": "ups",
    "USPS": "usps",
    "FedEx": "fedex",
    "DHLExpress": "dhl_express",
    "DHLPaket": "dhl_paket",
    "DPD": "dpd",
    "DPDUK": "dpd",
    "RoyalMail": "royal_mail",
    "CanadaPost": "canada_post",
    "AustraliaPost": "australia_post",
    "Colissimo": "colissimo",
    "LaPoste": "la_poste",
    "PostNL": "postnl",
    "Evri": "evri",
    "GLS": "gls",
    "Amazon": "amazon_logistics",
}

HANDLED_EVENTS = ("tracker.created", "tracker.updated")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hmac-Signature`` value EasyPost sends for ``body``."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return "hmac-sha256-hex=" + hmac_sha256(key, body).hex()


def normalized_status(status: str, detail: str) -> str:
    """A tracker or tracking detail's status as a normalized status."""
    if detail in ATTEMPT_DETAILS:
        return TrackingStatus.ATTEMPT_FAIL
    return STATUSES.get(status, TrackingStatus.PENDING)


class EasyPostTrackingWebhookView(BaseTrackingWebhookView):
    """EasyPost's ``tracker.created`` and ``tracker.updated`` events."""

    provider = "easypost"

    def signature_valid(self, request: HttpRequest, body: bytes, secret: bytes) -> bool:
        signature = request.headers.get(SIGNATURE_HEADER, "")
        return bool(signature) and hmac.compare_digest(
            sign(body, secret.decode()).encode(), signature.encode()
        )

    def signature_error(self, request: HttpRequest) -> str:
        if not request.headers.get(SIGNATURE_HEADER):
            return _("Missing %s header.") % SIGNATURE_HEADER
        return _("Invalid signature.")

    def parse(self, payload: Any, request: HttpRequest) -> list[TrackingUpdate]:
        if not isinstance(payload, dict) or payload.get("object") != "Event":
            raise WebhookError(_("Not an EasyPost Event: 'object' is not 'Event'."))
        if payload.get("description") not in HANDLED_EVENTS:
            return []
        tracker = payload.get("result")
        if not isinstance(tracker, dict) or tracker.get("object") != "Tracker":
            raise WebhookError(_("result is not a Tracker."))
        number = text(tracker.get("tracking_code")).strip()
        if not number:
            raise WebhookError(_("result.tracking_code is missing."))
        carrier = text(tracker.get("carrier"))
        update = TrackingUpdate(number, CARRIERS.get(carrier, carrier.lower()))
        details = tracker.get("tracking_details") or []
        if not isinstance(details, list):
            raise WebhookError(_("result.tracking_details must be a list."))
        for index, detail in enumerate(details):
            path = "result.tracking_details[%d]" % index
            if not isinstance(detail, dict):
                raise WebhookError(_("%s must be an object.") % path)
            update.scans.append(self.scan(detail, path))
        status = text(tracker.get("status"))
        detail = text(tracker.get("status_detail"))
        current = normalized_status(status, detail) if status in STATUSES else None
        if current and current not in {scan.status for scan in update.scans}:
            # A status without a tracking detail of its own (cancelled…): the
            # tracker's, at its last update.
            update.scans.append(
                Scan(
                    occurred_at=parse_time(
                        tracker.get("updated_at"), "result.updated_at"
                    ),
                    status=current,
                    substatus=DETAILS.get(detail, ""),
                    raw_status=status + (":" + detail if detail else ""),
                    event_id=text(payload.get("id")),
                )
            )
        update.estimate = estimate_from(
            tracker.get("est_delivery_date"),
            tracker.get("est_delivery_date"),
            "result.est_delivery_date",
        )
        return [update]

    def scan(self, detail: dict[str, Any], path: str) -> Scan:
        """One tracking detail as a scan."""
        status = text(detail.get("status"))
        if status not in STATUSES:
            raise WebhookError(
                _("%(path)s.status %(status)r is not an EasyPost status.")
                % {"path": path, "status": status}
            )
        status_detail = text(detail.get("status_detail"))
        location = detail.get("tracking_location") or {}
        place = ", ".join(
            text(location.get(key))
            for key in ("city", "state", "country")
            if isinstance(location, dict) and location.get(key)
        )
        return Scan(
            occurred_at=parse_time(detail.get("datetime"), path + ".datetime"),
            status=normalized_status(status, status_detail),
            substatus=DETAILS.get(status_detail, ""),
            location=place,
            raw_status=status + (":" + status_detail if status_detail else ""),
            message=text(detail.get("message")),
        )
