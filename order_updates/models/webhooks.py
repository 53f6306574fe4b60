"""Outbound webhooks: the merchant's endpoints, the deliveries to them (an
outbox table, delivered by the same claim, lease, retry and sweep code as
notifications) and each attempt's record.
"""

from __future__ import annotations

import base64
import secrets
import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from order_updates.models.timeline import ORDER_MODEL

#: The prefix of a signing secret, as Standard Webhooks writes them.
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEventType(models.TextChoices):
    """What an outbound webhook can tell the merchant's systems."""

    STATUS_CHANGED = "order.status_changed", _("Order status changed")
    SHIPMENT_CREATED = "shipment.created", _("Shipment created")
    SHIPMENT_UPDATED = "shipment.updated", _("Shipment updated")
    TRACKING_UPDATED = "tracking.updated", _("Tracking updated")
    DELAYED = "order.delayed", _("Delivery delayed")
    NOTIFICATION_FAILED = "notification.failed", _("Notification failed")
    NOTIFICATION_BOUNCED = "notification.bounced", _("Notification bounced")


class WebhookDeliveryState(models.TextChoices):
    """Where a delivery is; the values are the outbox states the delivery
    engine's claim, lease and sweep code works with."""

    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookEndpoint(models.Model):
    """A URL of the merchant's that receives signed events."""

    url = models.URLField(
        _("URL"),
        max_length=500,
        help_text=_("Where events are posted: an http(s) address on the internet."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(
        _("signing secret"),
        max_length=100,
        default=new_secret,
        help_text=_(
            "The receiver checks each request's signature with it. Keep it private."
        ),
    )
    #: WebhookEventType values this endpoint receives.
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    #: Failed attempts in a row; a success resets it.
    consecutive_failures = models.PositiveIntegerField(
        _("failures in a row"), default=0
    )
    #: When order_updates switched it off after too many failures in a row.
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: a row of the webhooks' outbox.

    Written in the transaction of the change it tells about; its ``body`` is
    the exact JSON posted, the same on every attempt.
    """

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    #: The event's id: the same for every endpoint that gets the event, and on
    #: every attempt, so receivers can drop duplicates.
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4)
    event_type = models.CharField(
        _("event type"), max_length=50, choices=WebhookEventType.choices
    )
    order = models.ForeignKey(
        ORDER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="order_updates_webhook_deliveries",
        verbose_name=_("order"),
    )
    body = models.TextField(_("body"))
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=WebhookDeliveryState.choices,
        default=WebhookDeliveryState.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True
    )
    claim_token = models.UUIDField(_("claim token"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="order_updates_webhook_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["state", "next_attempt_at"], name="order_updates_webhook_due"
            ),
        ]

    def __str__(self) -> str:
        return "%s → %s (%s)" % (self.event_type, self.endpoint, self.state)


class WebhookAttempt(models.Model):
    """The record of one POST of a delivery: what the endpoint answered."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("delivery"),
    )
    started_at = models.DateTimeField(_("time"), default=timezone.now)
    url = models.URLField(_("URL"), max_length=500)
    #: The HTTP status, or None when no answer came (refused, timeout…).
    status_code = models.PositiveSmallIntegerField(
        _("HTTP status"), null=True, blank=True
    )
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    #: The start of the answer's body.
    response = models.TextField(_("response"), blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "started_at", "pk"]

    def __str__(self) -> str:
        return "%s %s" % (self.url, self.status_code or self.error[:40])

    @property
    def ok(self) -> bool:
        """Whether the endpoint accepted the delivery (a 2xx answer)."""
        return self.status_code is not None and 200 <= self.status_code < 300
