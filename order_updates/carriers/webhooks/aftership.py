"""AfterShip's tracking webhook (Tracking API webhooks, ``tracking_update``).

AfterShip signs each request with the ``aftership-hmac-sha256`` header: the
base64 HMAC-SHA256 of the raw body, keyed with the webhook secret shown under
Settings → Webhooks. The body has ``event``, ``event_id``, ``ts`` and ``msg``,
the tracking: its ``tracking_number``, ``slug`` (the courier), ``tag`` and
``subtag`` (AfterShip's normalized status), estimated delivery dates and
``checkpoints`` (the scans, each with ``checkpoint_time``, ``tag``, ``subtag``,
``message``, ``location`` and the carrier's ``raw_tag``). Events other than
``tracking_update`` and ``edd_revise`` are acknowledged and ignored.

``ts`` is when the tracking changed, not when the request was sent (AfterShip
retries with the same body), so no timestamp window applies.
"""

from __future__ import annotations

import base64
import datetime
import hmac
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

SIGNATURE_HEADER = "aftership-hmac-sha256"

#: AfterShip tag → normalized status (the same taxonomy).
TAGS = {
    "Pending": TrackingStatus.PENDING,
    "InfoReceived": TrackingStatus.INFO_RECEIVED,
    "InTransit": TrackingStatus.IN_TRANSIT,
    "OutForDelivery": TrackingStatus.OUT_FOR_DELIVERY,
    "AttemptFail": TrackingStatus.ATTEMPT_FAIL,
    "AvailableForPickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "Delivered": TrackingStatus.DELIVERED,
    "Exception": TrackingStatus.EXCEPTION,
    "Expired": TrackingStatus.EXPIRED,
}

#: AfterShip subtag → sub-status (those with a reason worth keeping).
SUBTAGS = {
    "Delivered_002": TrackingSubstatus.PICKED_UP,
    "Delivered_003": TrackingSubstatus.SIGNED,
    "AttemptFail_001": TrackingSubstatus.RECIPIENT_UNAVAILABLE,
    "AttemptFail_002": TrackingSubstatus.RECIPIENT_UNAVAILABLE,
    "AttemptFail_003": TrackingSubstatus.ADDRESS,
    "Exception_002": TrackingSubstatus.ADDRESS,
    "Exception_003": TrackingSubstatus.REFUSED,
    "Exception_004": TrackingSubstatus.CUSTOMS,
    "Exception_005": TrackingSubstatus.DELAYED,
    "Exception_006": TrackingSubstatus.HELD,
    "Exception_007": TrackingSubstatus.ADDRESS,
    "Exception_008": TrackingSubstatus.OTHER,
    "Exception_009": TrackingSubstatus.OTHER,
    "Exception_010": TrackingSubstatus.RETURNING_TO_SENDER,
    "Exception_011": TrackingSubstatus.RETURNED_TO_SENDER,
    "Exception_012": TrackingSubstatus.DAMAGED,
    "Exception_013": TrackingSubstatus.LOST,
}

#: AfterShip courier slug → registry code, where they differ.
SLUGS = {
    "dhl": "dhl_express",
    "dhl-germany": "dhl_paket",
    "deutsch-post": "deutsche_post",
    "royal-mail": "royal_mail",
    "canada-post": "canada_post",
    "australia-post": "australia_post",
    "la-poste-colissimo": "colissimo",
    "amazon": "amazon_logistics",
    "poste-italiane": "poste_italiane",
    "spain-correos-es": "correos",
    "inpost-paczkomaty": "inpost",
    "japan-post": "japan_post",
    "china-post": "china_post",
    "china-ems": "china_post",
}

HANDLED_EVENTS = ("tracking_update", "edd_revise")


def sign(body: bytes, secret: str) -> str:
    """The ``aftership-hmac-sha256`` value AfterShip sends for ``body``."""
    return base64.b64encode(hmac_sha256(secret.encode(), body)).decode()


class AfterShipTrackingWebhookView(BaseTrackingWebhookView):
    """AfterShip's ``tracking_update`` and ``edd_revise`` webhooks."""

    provider = "aftership"

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
        if not isinstance(payload, dict) or not isinstance(payload.get("msg"), dict):
            raise WebhookError(_("Not an AfterShip webhook: no 'msg' object."))
        if payload.get("event") not in HANDLED_EVENTS:
            return []
        msg = payload["msg"]
        number = text(msg.get("tracking_number")).strip()
        if not number:
            raise WebhookError(_("msg.tracking_number is missing."))
        slug = text(msg.get("slug"))
        update = TrackingUpdate(number, SLUGS.get(slug, slug.replace("-", "_")))
        checkpoints = msg.get("checkpoints") or []
        if not isinstance(checkpoints, list):
            raise WebhookError(_("msg.checkpoints must be a list."))
        for index, checkpoint in enumerate(checkpoints):
            path = "msg.checkpoints[%d]" % index
            if not isinstance(checkpoint, dict):
                raise WebhookError(_("%s must be an object.") % path)
            update.scans.append(self.scan(checkpoint, path))
        tag = msg.get("tag")
        if tag in TAGS and TAGS[tag] not in {scan.status for scan in update.scans}:
            # A status without a checkpoint of its own (Expired, Pending): the
            # tracking's, at the event's time.
            update.scans.append(
                Scan(
                    occurred_at=self.event_time(payload),
                    status=TAGS[tag],
                    substatus=SUBTAGS.get(text(msg.get("subtag")), ""),
                    raw_status=text(msg.get("subtag") or tag),
                    message=text(msg.get("subtag_message")),
                    event_id=text(payload.get("event_id")),
                )
            )
        update.estimate = self.estimate(msg)
        return [update]

    def event_time(self, payload: dict[str, Any]) -> datetime.datetime:
        """The event's ``ts`` (Unix seconds) as an aware datetime."""
        ts = payload.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise WebhookError(_("ts must be a Unix time."))
        return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)

    def scan(self, checkpoint: dict[str, Any], path: str) -> Scan:
        """One checkpoint as a scan."""
        tag = checkpoint.get("tag")
        if tag not in TAGS:
            raise WebhookError(
                _("%(path)s.tag %(tag)r is not an AfterShip tag.")
                % {"path": path, "tag": tag}
            )
        location = text(checkpoint.get("location")) or ", ".join(
            text(checkpoint.get(key))
            for key in ("city", "state", "country_iso3")
            if checkpoint.get(key)
        )
        return Scan(
            occurred_at=parse_time(
                checkpoint.get("checkpoint_time"), path + ".checkpoint_time"
            ),
            status=TAGS[tag],
            substatus=SUBTAGS.get(text(checkpoint.get("subtag")), ""),
            location=location,
            raw_status=text(checkpoint.get("raw_tag") or checkpoint.get("subtag")),
            message=text(checkpoint.get("message")),
        )

    def estimate(self, msg: dict[str, Any]):
        """The carrier's estimate, else AfterShip's own, else ``expected_delivery``."""
        for key in (
            "courier_estimated_delivery_date",
            "aftership_estimated_delivery_date",
        ):
            value = msg.get(key)
            if isinstance(value, dict):
                estimate = estimate_from(
                    value.get("estimated_delivery_date_min")
                    or value.get("estimated_delivery_date"),
                    value.get("estimated_delivery_date_max")
                    or value.get("estimated_delivery_date"),
                    "msg." + key,
                )
                if estimate is not None:
                    return estimate
        return estimate_from(
            msg.get("expected_delivery"), msg.get("expected_delivery"), "msg"
        )
