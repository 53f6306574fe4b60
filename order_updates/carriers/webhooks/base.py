"""The common base of tracking webhooks (as django-anymail's webhook views).

:class:`BaseTrackingWebhookView` is a template method: :meth:`post` checks the
size, the configuration and the signature, then calls :meth:`parse` (which a
provider module writes) and hands each update to the services. The answers:

* 404 when the provider has no entry in ``TRACKING_WEBHOOKS``;
* 413 for a body over ``TRACKING_WEBHOOK_MAX_BYTES``;
* 400 with a message for a missing or wrong signature, a stale timestamp, or a
  payload that is not the provider's format; nothing is stored;
* 200 otherwise, also for a tracking number no shipment has (logged, so the
  provider does not retry forever), with a JSON summary.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from order_updates.conf import app_settings, setting_name
from order_updates.core.tracking import (
    Estimate,
    Scan,
    find_shipments,
    record_tracking_events,
)
from order_updates.core.validation import clean_text, max_message_length
from order_updates.exceptions import InvalidInput, OrderUpdatesConfigurationError

logger = logging.getLogger(__name__)


class WebhookError(Exception):
    """A request to refuse: ``status`` and a message for the sender."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class TrackingUpdate:
    """What one tracking number's part of a payload says."""

    tracking_number: str
    carrier: str = ""
    scans: list[Scan] = field(default_factory=list)
    estimate: Estimate | None = None


@method_decorator(csrf_exempt, name="dispatch")
class BaseTrackingWebhookView(View):
    """Receives a provider's tracking webhooks; subclass per provider.

    Subclasses set :attr:`provider` (its key in ``TRACKING_WEBHOOKS`` and the
    scans' ``source``) and write :meth:`signature_valid` and :meth:`parse`.
    """

    http_method_names = ["post"]
    #: The provider's key in ORDER_UPDATES["TRACKING_WEBHOOKS"].
    provider = ""

    def post(self, request: HttpRequest) -> HttpResponse:
        """Check, parse and record one webhook request."""
        try:
            secrets = self.get_secrets()
        except LookupError:
            return JsonResponse(
                {"error": _("This tracking webhook is not enabled.")}, status=404
            )
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = app_settings.TRACKING_WEBHOOK_MAX_BYTES
        if length > limit or len(request.body) > limit:
            return JsonResponse(
                {"error": _("The body is larger than %d bytes.") % limit}, status=413
            )
        body = request.body
        try:
            if not any(self.signature_valid(request, body, s) for s in secrets):
                raise WebhookError(self.signature_error(request))
            self.check_request(request)
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, ValueError) as exc:
                raise WebhookError(_("The body is not JSON: %s") % exc) from None
            updates = self.parse(payload, request)
        except WebhookError as exc:
            logger.warning("Refused a %s tracking webhook: %s", self.provider, exc)
            return JsonResponse({"error": str(exc)}, status=exc.status)
        try:
            with transaction.atomic():  # all of a batch, or nothing
                summary = self.record(updates)
        except InvalidInput as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse(summary)

    # Configuration ------------------------------------------------------------------

    def get_secrets(self) -> list[bytes]:
        """The provider's secrets (several during a rotation); LookupError when
        the provider is not configured.
        """
        config = app_settings.TRACKING_WEBHOOKS.get(self.provider)
        if config is None:
            raise LookupError(self.provider)
        secrets = config.get("SECRETS") if isinstance(config, dict) else None
        if not secrets or not all(isinstance(s, str) and s for s in secrets):
            raise OrderUpdatesConfigurationError(
                "%s must be a list of non-empty secrets."
                % setting_name("TRACKING_WEBHOOKS", self.provider, "SECRETS")
            )
        return [secret.encode() for secret in secrets]

    # What a provider writes --------------------------------------------------------

    def signature_valid(self, request: HttpRequest, body: bytes, secret: bytes) -> bool:
        """Whether ``request`` is signed with ``secret`` (compare with
        :func:`hmac.compare_digest`).
        """
        raise NotImplementedError(
            "%s.%s must implement signature_valid()"
            % (self.__class__.__module__, self.__class__.__name__)
        )

    def signature_error(self, request: HttpRequest) -> str:
        """Why the signature check failed, for the 400 answer."""
        return _("Missing or invalid signature.")

    def check_request(self, request: HttpRequest) -> None:
        """Refuse a correctly signed request for another reason (a stale
        timestamp) by raising :class:`WebhookError`; by default, accept it.
        """

    def parse(self, payload: Any, request: HttpRequest) -> list[TrackingUpdate]:
        """The updates in a verified payload; raise :class:`WebhookError` for a
        payload that is not the provider's format.
        """
        raise NotImplementedError(
            "%s.%s must implement parse()"
            % (self.__class__.__module__, self.__class__.__name__)
        )

    # Recording ------------------------------------------------------------------------

    def record(self, updates: list[TrackingUpdate]) -> dict[str, Any]:
        """Hand each update to the services; unknown numbers are logged."""
        summary: dict[str, Any] = {"accepted": 0, "stored": 0, "unknown": []}
        for update in updates:
            shipments = find_shipments(update.tracking_number, update.carrier)
            if not shipments:
                logger.info(
                    "%s tracking webhook for unknown tracking number %r; ignored.",
                    self.provider,
                    update.tracking_number,
                )
                summary["unknown"].append(update.tracking_number)
                continue
            result = record_tracking_events(
                shipments[0],
                update.scans,
                source=self.provider,
                estimate=update.estimate,
            )
            summary["accepted"] += 1
            summary["stored"] += len(result.added)
        return summary


# Helpers for parsers ----------------------------------------------------------------


def hmac_sha256(secret: bytes, message: bytes) -> bytes:
    """The raw HMAC-SHA256 digest of ``message``."""
    return hmac.new(secret, message, hashlib.sha256).digest()


def parse_time(value: Any, path: str) -> datetime.datetime:
    """An aware datetime from an ISO 8601 string with an offset."""
    if not isinstance(value, str):
        raise WebhookError(_("%s must be an ISO 8601 time.") % path)
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WebhookError(
            _("%s is not an ISO 8601 time: %r") % (path, value)
        ) from None
    if moment.tzinfo is None:
        raise WebhookError(_("%s has no UTC offset: %r") % (path, value))
    return moment


def parse_date(value: Any, path: str) -> datetime.date | None:
    """A date from ``YYYY-MM-DD`` (or the date part of an ISO time); None for null."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise WebhookError(_("%s must be a date.") % path)
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        raise WebhookError(_("%s is not a date: %r") % (path, value)) from None


def estimate_from(earliest: Any, latest: Any, path: str) -> Estimate | None:
    """An estimate from two date strings (either may be missing)."""
    first = parse_date(earliest, path)
    last = parse_date(latest, path)
    if first is None and last is None:
        return None
    first, last = first or last, last or first
    assert first is not None and last is not None
    if last < first:
        first, last = last, first
    return Estimate(first, last)


def text(value: Any) -> str:
    """A payload's text value ('' for null), storable: NUL characters removed,
    lone surrogates replaced and cut to ``MAX_MESSAGE_LENGTH``, as the
    provider's batch must not be refused for them.
    """
    return clean_text(value, max_message_length())
