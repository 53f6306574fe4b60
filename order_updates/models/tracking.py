"""What carriers report about shipments: scan events, estimate revisions, and the
extra tracking numbers of multi-parcel shipments.

Written by :mod:`order_updates.services` only (``record_tracking_events``,
``set_estimated_delivery``, ``add_shipment``).
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from order_updates.models.timeline import Shipment
from order_updates.models.tracking_status import TrackingStatus, TrackingSubstatus


class ShipmentTrackingNumber(models.Model):
    """A further tracking number of a shipment (one per parcel of a multi-parcel
    shipment); the first one is :attr:`Shipment.tracking_number`.
    """

    shipment = models.ForeignKey(
        Shipment,
        on_delete=models.CASCADE,
        related_name="more_tracking_numbers",
        verbose_name=_("shipment"),
    )
    number = models.CharField(_("tracking number"), max_length=100, db_index=True)

    class Meta:
        verbose_name = _("tracking number")
        verbose_name_plural = _("tracking numbers")
        ordering = ["shipment", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "number"], name="order_updates_number_once"
            )
        ]

    def __str__(self) -> str:
        return self.number


class TrackingEvent(models.Model):
    """One scan reported by a carrier: when, where, what the carrier said, and
    what it means in the normalized taxonomy.
    """

    shipment = models.ForeignKey(
        Shipment,
        on_delete=models.CASCADE,
        related_name="tracking_events",
        verbose_name=_("shipment"),
    )
    #: When the scan happened (aware; the carrier's local time converted).
    occurred_at = models.DateTimeField(_("time"))
    status = models.CharField(
        _("status"), max_length=32, choices=TrackingStatus.choices
    )
    substatus = models.CharField(
        _("sub-status"), max_length=32, choices=TrackingSubstatus.choices, blank=True
    )
    location = models.CharField(_("location"), max_length=200, blank=True)
    #: The carrier's (or aggregator's) own status code and message, unchanged.
    raw_status = models.CharField(_("carrier status"), max_length=100, blank=True)
    message = models.TextField(_("carrier message"), blank=True)
    #: Where it came from: "aftership", "easypost", "generic", "staff"…
    source = models.CharField(_("source"), max_length=50, blank=True)
    #: The provider's event id, else a hash of the scan's content: a replayed
    #: scan is recognised and stored once.
    dedupe_key = models.CharField(max_length=100)
    created_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["shipment", "occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "dedupe_key"], name="order_updates_scan_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["shipment", "-occurred_at"], name="order_updates_scan_time"
            )
        ]

    def __str__(self) -> str:
        return "%s %s" % (self.occurred_at, self.status)


class EstimateSource(models.TextChoices):
    """Who gave an estimated delivery."""

    CARRIER = "carrier", _("Carrier")
    STAFF = "staff", _("Staff")
    DEFAULT = "default", _("Default transit time")


class DeliveryEstimate(models.Model):
    """One revision of a shipment's estimated delivery (a date or a window)."""

    shipment = models.ForeignKey(
        Shipment,
        on_delete=models.CASCADE,
        related_name="estimates",
        verbose_name=_("shipment"),
    )
    earliest = models.DateField(_("earliest"))
    latest = models.DateField(_("latest"))
    source = models.CharField(
        _("source"), max_length=16, choices=EstimateSource.choices
    )
    data = models.JSONField(
        _("data"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    created_at = models.DateTimeField(_("revised at"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery estimate")
        verbose_name_plural = _("delivery estimates")
        ordering = ["shipment", "created_at", "pk"]
        get_latest_by = ["created_at", "pk"]

    def __str__(self) -> str:
        if self.earliest == self.latest:
            return str(self.latest)
        return "%s – %s" % (self.earliest, self.latest)
