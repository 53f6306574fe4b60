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

    class Meta:
        verbose_name = _("order status")
        verbose_name_plural = _("order statuses")

    def __str__(self) -> str:
        return "%s: %s" % (self.order_id, self.status)

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
    #: A shipment's carrier, tracking number, link or time corrected.
    SHIPMENT_UPDATED = "shipment_updated", _("Shipment updated")
    DELIVERY_DELAYED = "delivery_delayed", _("Delivery delayed")
    #: The carrier could not deliver (attempt failed, address problem, damage…).
    DELIVERY_EXCEPTION = "delivery_exception", _("Delivery problem")
    #: A bounce, complaint or fallback reported about a notification (staff only).
    DELIVERY_FEEDBACK = "delivery_feedback", _("Delivery feedback")


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses in-place changes: the timeline is a log, not a table to edit."""

    def update(self, **kwargs):
        raise OrderUpdatesError("Order events are append-only; add a new event.")

    def delete(self):
        raise OrderUpdatesError("Order events are append-only; they are not deleted.")

    def public(self) -> AppendOnlyQuerySet:
        """The events customers see (the rule of :attr:`OrderEvent.is_public`)."""
        return self.exclude(kind=EventKind.DELIVERY_FEEDBACK).exclude(
            kind=EventKind.NOTE, message=""
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
        if self.kind == EventKind.DELIVERY_FEEDBACK:
            return False
        return self.kind != EventKind.NOTE or bool(self.message)

    @property
    def actor_display(self) -> str:
        """Who made the change, for people to read."""
        if self.actor_user_id:
            return str(self.actor_user)
        return self.actor_label


class Shipment(models.Model):
    """A parcel sent for an order: carrier, tracking number and link."""

    order = models.ForeignKey(
        ORDER_MODEL,
        on_delete=models.CASCADE,
        related_name="order_updates_shipments",
        verbose_name=_("order"),
    )
    carrier = models.CharField(
        _("carrier"), max_length=50, blank=True, help_text=_('A code such as "ups".')
    )
    tracking_number = models.CharField(
        _("tracking number"), max_length=100, blank=True, db_index=True
    )
    tracking_url = models.URLField(_("tracking link"), max_length=500, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["order", "created_at", "pk"]

    def __str__(self) -> str:
        return " ".join(filter(None, [self.carrier, self.tracking_number])) or (
            "#%s" % self.pk
        )
