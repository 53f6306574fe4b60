"""Models: the current status per order, the append-only timeline, shipments.

Every model points at the shop's own order model (``ORDER_UPDATES_ORDER_MODEL``)
with a real foreign key, so the shop's model needs no new field. Change these rows
only through :mod:`order_updates.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from order_updates.conf import ORDER_MODEL_SETTING
from order_updates.exceptions import OrderUpdatesError
from order_updates.models.tracking_status import TrackingStatus, TrackingSubstatus
from order_updates.pipeline import Status, get_pipeline

#: The foreign keys' target. Without the setting, a model that does not exist, so
#: ``manage.py check`` reports order_updates.E001 with its hint instead of failing
#: with a traceback at import time.
ORDER_MODEL = getattr(settings, ORDER_MODEL_SETTING, None) or "order_updates.OrderModel"

#: Length of a status code column (see pipeline.CODE_PATTERN).
STATUS_LENGTH = 32


class OrderState(models.Model):
    """The current status of one order: one row per tracked order."""

    order = models.OneToOneField(
        ORDER_MODEL,
        on_delete=models.CASCADE,
        related_name="order_updates_state",
        verbose_name=_("order"),
    )
    status = models.CharField(_("status"), max_length=STATUS_LENGTH, db_index=True)
    #: Sequence number of the order's latest event; the next event gets this + 1.
    last_sequence = models.PositiveIntegerField(_("last event number"), default=0)
    status_changed_at = models.DateTimeField(
        _("status changed at"), default=timezone.now
    )
    created_at = models.DateTimeField(_("tracked since"), default=timezone.now)
    #: Part of every signed tracking link of the order; raising it revokes them all.
    tracking_link_version = models.PositiveIntegerField(
        _("tracking link version"), default=0
    )
    #: The ``status_changed_at`` already reported as too long in its status, so
    #: the periodic check alerts once per stay in a status.
    overdue_reported_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("order status")
        verbose_name_plural = _("order statuses")

    def __str__(self) -> str:
        # The label: merchants read this (the admin's delete confirmation).
        return "%s: %s" % (self.order_id, self.status_info.label)

    @property
    def status_info(self) -> Status:
        """The pipeline's :class:`~order_updates.pipeline.Status` (a stand-in
        labelled with the code if the status was retired from the pipeline).
        """
        return get_pipeline().get_or_retired(self.status)


class EventKind(models.TextChoices):
    """What an :class:`OrderEvent` records."""

    TRACKING_STARTED = "tracking_started", _("Tracking started")
    STATUS_CHANGED = "status_changed", _("Status changed")
    NOTE = "note", _("Note")
    SHIPMENT_ADDED = "shipment_added", _("Shipment added")
    #: A shipment's carrier, tracking number, link or shipped time changed.
    SHIPMENT_UPDATED = "shipment_updated", _("Shipment updated")
    DELIVERY_DELAYED = "delivery_delayed", _("Delivery delayed")
    #: The carrier could not deliver (attempt failed, address problem, damage…).
    DELIVERY_EXCEPTION = "delivery_exception", _("Delivery problem")
    #: A bounce, complaint or fallback reported about a notification (staff only).
    DELIVERY_FEEDBACK = "delivery_feedback", _("Delivery feedback")
    #: A shipment's normalized tracking status changed (carrier scans, staff).
    TRACKING_UPDATED = "tracking_updated", _("Tracking updated")
    #: A shipment's estimated delivery was set or revised.
    ESTIMATE_CHANGED = "estimate_changed", _("Estimated delivery changed")
    #: No carrier scan for too long (staff only).
    SHIPMENT_STUCK = "shipment_stuck", _("Shipment stuck")
    #: The order sat too long in its status (staff only, unless a message).
    STATUS_OVERDUE = "status_overdue", _("Status overdue")


#: Kinds the customer never sees in their timeline.
STAFF_ONLY_KINDS = frozenset({EventKind.DELIVERY_FEEDBACK, EventKind.SHIPMENT_STUCK})


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses in-place changes: the timeline is a log, not a table to edit."""

    def update(self, **kwargs):
        raise OrderUpdatesError("Order events are append-only; add a new event.")

    def delete(self):
        raise OrderUpdatesError("Order events are append-only; they are not deleted.")

    def public(self) -> AppendOnlyQuerySet:
        """The events customers see (the rule of :attr:`OrderEvent.is_public`)."""
        return self.exclude(kind__in=STAFF_ONLY_KINDS).exclude(
            kind__in=[EventKind.NOTE, EventKind.STATUS_OVERDUE], message=""
        )


class OrderEvent(models.Model):
    """One entry of an order's append-only timeline."""

    order = models.ForeignKey(
        ORDER_MODEL,
        on_delete=models.CASCADE,
        related_name="order_updates_events",
        verbose_name=_("order"),
    )
    #: 1, 2, 3… per order, without gaps: the timeline's order and its integrity check.
    sequence = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=32, choices=EventKind.choices)
    from_status = models.CharField(
        _("from status"), max_length=STATUS_LENGTH, blank=True
    )
    to_status = models.CharField(_("to status"), max_length=STATUS_LENGTH, blank=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    #: "system", "carrier:ups"…, or the user's name when the event was written.
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    message = models.TextField(
        _("message to customer"),
        blank=True,
        help_text=_("Shown to the customer."),
    )
    note = models.TextField(
        _("internal note"),
        blank=True,
        help_text=_("Only staff see this."),
    )
    data = models.JSONField(
        _("data"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    #: Whether this change should notify the customer (the caller's ``notify=``).
    notify = models.BooleanField(_("notify customer"), default=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["order", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "sequence"], name="order_updates_event_order_sequence"
            ),
        ]
        indexes = [
            models.Index(
                fields=["order", "created_at"], name="order_updates_event_time"
            ),
        ]

    def __str__(self) -> str:
        return "#%s %s" % (self.sequence, self.get_kind_display())

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise OrderUpdatesError("Order events are append-only; add a new event.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise OrderUpdatesError("Order events are append-only; they are not deleted.")

    @property
    def is_public(self) -> bool:
        """Whether the customer sees this event in their timeline (the same rule
        as ``OrderEvent.objects.public()``).
        """
        if self.kind in STAFF_ONLY_KINDS:
            return False
        if self.kind in (EventKind.NOTE, EventKind.STATUS_OVERDUE):
            return bool(self.message)
        return True

    @property
    def actor_display(self) -> str:
        """Who made the change, for people to read."""
        if self.actor_user_id:
            return str(self.actor_user)
        return self.actor_label


class Shipment(models.Model):
    """A parcel sent for an order: its items, carrier, tracking numbers and link,
    when it left and arrived, its estimated delivery and its tracking status.

    ``carrier`` is a code of the carrier registry (:mod:`order_updates.carriers`)
    or, for a carrier the registry does not know, empty with ``carrier_name``
    holding the name as typed. Change it only through :mod:`order_updates.services`.
    """

    order = models.ForeignKey(
        ORDER_MODEL,
        on_delete=models.CASCADE,
        related_name="order_updates_shipments",
        verbose_name=_("order"),
    )
    carrier = models.CharField(
        _("carrier"), max_length=50, blank=True, help_text=_('A code such as "ups".')
    )
    #: The carrier's name when it is not in the registry (free text).
    carrier_name = models.CharField(
        _("carrier name"),
        max_length=100,
        blank=True,
        help_text=_("For a carrier without a code: its name as customers know it."),
    )
    #: The carrier's service level ("express", "ground"…), for default transit times.
    service = models.CharField(_("service"), max_length=50, blank=True)
    tracking_number = models.CharField(
        _("tracking number"), max_length=100, blank=True, db_index=True
    )
    tracking_url = models.URLField(_("tracking link"), max_length=500, blank=True)
    #: The lines in this parcel: ``[{"line": "<key>", "quantity": n}, ...]``, the
    #: keys being the adapter's ``get_line_quantities()`` keys; empty: the whole order.
    items = models.JSONField(
        _("items"), default=list, blank=True, encoder=DjangoJSONEncoder
    )
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    #: Normalized (AfterShip's taxonomy), decided by the newest scan.
    tracking_status = models.CharField(
        _("tracking status"),
        max_length=32,
        choices=TrackingStatus.choices,
        default=TrackingStatus.PENDING,
    )
    tracking_substatus = models.CharField(
        _("tracking sub-status"),
        max_length=32,
        choices=TrackingSubstatus.choices,
        blank=True,
    )
    #: Time of the newest scan (what decides the status), and when the status
    #: last changed.
    last_scan_at = models.DateTimeField(_("last scan at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(
        _("tracking status changed at"), null=True, blank=True
    )
    #: The current estimated delivery (a date, or a window of dates): a copy of
    #: the newest :class:`DeliveryEstimate`, kept here for queries.
    estimated_delivery_from = models.DateField(
        _("estimated delivery from"), null=True, blank=True
    )
    estimated_delivery_to = models.DateField(
        _("estimated delivery by"), null=True, blank=True, db_index=True
    )
    #: The estimate revision already reported late, and the scan time already
    #: reported stuck: each periodic alert goes out once per revision / silence.
    late_reported_for = models.PositiveIntegerField(null=True, blank=True)
    stuck_reported_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["order", "created_at", "pk"]

    def __str__(self) -> str:
        return " ".join(
            filter(None, [self.carrier or self.carrier_name, self.tracking_number])
        ) or ("#%s" % self.pk)

    @property
    def is_delivered(self) -> bool:
        """Whether the carrier (or staff) reported it delivered."""
        return self.tracking_status == TrackingStatus.DELIVERED
