"""The notification outbox, delivery feedback and suppressed addresses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from order_updates.models.timeline import ORDER_MODEL, OrderEvent


class NotificationState(models.TextChoices):
    """Where a notification is on its way to the customer."""

    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")
    SUPPRESSED = "suppressed", _("Suppressed")
    SKIPPED = "skipped", _("Skipped")


class NotificationQuerySet(models.QuerySet):
    """Notifications, with an update that gives each row values of its own."""

    def update_each(self, values: dict[Any, dict[str, Any]], **common: Any) -> int:
        """Update each row in ``values`` (pk → its field values) in one statement.

        ``UPDATE … SET f = CASE id WHEN … END WHERE id IN (…)`` plus this
        queryset's own conditions (a state, a claim token), so a row that moved
        on meanwhile is left alone. ``common`` values apply to every row.
        Returns how many rows were updated.

        The CASE is written as SQL with parameters rather than built from
        ``When`` objects: the workers mark every group of sent messages with it,
        and Django's expressions cost more than the statement itself.
        """
        if not values:
            return 0
        connection = connections[self.db]
        quote = connection.ops.quote_name
        pk_column = quote(self.model._meta.pk.column or "id")
        updates: dict[str, Any] = dict(common)
        for name in sorted({name for row in values.values() for name in row}):
            field = self.model._meta.get_field(name)
            assert isinstance(field, models.Field), name  # a column of this table
            whens = []
            params: list[Any] = []
            for pk, row in values.items():
                if name in row:
                    whens.append("WHEN %s THEN %s")
                    params += [pk, field.get_db_prep_save(row[name], connection)]
            sql = "CASE %s %s ELSE %s END" % (
                pk_column,
                " ".join(whens),
                quote(field.column or name),
            )
            if connection.vendor != "sqlite":
                # Parameters in a CASE have no type of their own on PostgreSQL.
                # (SQLite is dynamically typed, and its CAST to "datetime" would
                # keep only the year.)
                sql = "CAST(%s AS %s)" % (sql, field.cast_db_type(connection))
            updates[name] = RawSQL(sql, params, output_field=field)
        return self.filter(pk__in=list(values)).update(**updates)


class Notification(models.Model):
    """One message to one recipient on one channel about one timeline event.

    Rows are written in the same transaction as the event (the outbox), then
    delivered by Celery workers. ``dedupe_key`` (event × channel × recipient) makes
    a second row for the same message impossible.
    """

    order = models.ForeignKey(
        ORDER_MODEL,
        on_delete=models.CASCADE,
        related_name="order_updates_notifications",
        verbose_name=_("order"),
    )
    event = models.ForeignKey(
        OrderEvent,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("event"),
    )
    type = models.CharField(_("type"), max_length=50, db_index=True)
    channel = models.CharField(_("channel"), max_length=20)
    #: Email address, E.164 phone number, or push subscription id.
    recipient = models.CharField(_("recipient"), max_length=320)
    language = models.CharField(_("language"), max_length=15, blank=True)
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=NotificationState.choices,
        default=NotificationState.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    #: A pending row is not sent before this (coalescing, quiet hours, retries).
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    #: A "sending" row whose worker died is taken back after this.
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True
    )
    #: The fencing token of the worker's claim: every later update of the row by
    #: that worker requires it, so a worker whose lease was taken over cannot
    #: overwrite what the next one does.
    claim_token = models.UUIDField(_("claim token"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    #: Why a row was skipped or suppressed.
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    provider = models.CharField(_("provider"), max_length=50, blank=True)
    provider_message_id = models.CharField(
        _("provider message id"), max_length=255, blank=True, db_index=True
    )
    subject = models.TextField(_("subject"), blank=True)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=400, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    #: When staff last sent it again (``delivery.resend()``): such a row is sent
    #: even if a newer update superseded it.
    resent_at = models.DateTimeField(_("sent again at"), null=True, blank=True)
    #: The row this one replaces (an SMS sent because the email bounced...).
    fallback_for = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fallbacks",
        verbose_name=_("fallback for"),
    )
    #: The newer message that replaced this one before it went out (coalescing);
    #: that one carries this one's message to the customer.
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="superseded",
        verbose_name=_("superseded by"),
    )

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["state", "next_attempt_at"], name="order_updates_notif_due"
            ),
            models.Index(
                fields=["order", "channel", "recipient", "state"],
                name="order_updates_notif_coalesce",
            ),
        ]

    def __str__(self) -> str:
        return "%s %s → %s (%s)" % (
            self.type,
            self.channel,
            self.recipient,
            self.get_state_display(),
        )

    @staticmethod
    def make_dedupe_key(event_id: int, channel: str, recipient: str) -> str:
        """The key that makes a second row for the same message impossible."""
        return "%s:%s:%s" % (event_id, channel, recipient)


class DeliveryFeedback(models.Model):
    """A provider's report about a sent notification (delivered, bounced…).

    Unique per provider and event id, so a webhook delivered twice counts once.
    """

    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        related_name="feedback",
        verbose_name=_("notification"),
    )
    provider = models.CharField(_("provider"), max_length=50)
    event_id = models.CharField(_("event id"), max_length=255)
    #: The provider-neutral kind: delivered, bounced, complained, opened…
    event_type = models.CharField(_("event"), max_length=50)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    description = models.TextField(_("description"), blank=True)
    raw = models.JSONField(_("raw data"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery feedback")
        verbose_name_plural = _("delivery feedback")
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="order_updates_feedback_once"
            )
        ]

    def __str__(self) -> str:
        return "%s: %s" % (self.provider, self.event_type)


class SuppressionReason(models.TextChoices):
    BOUNCED = "bounced", _("Hard bounce")
    COMPLAINED = "complained", _("Spam complaint")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    MANUAL = "manual", _("Added by staff")


class SuppressedRecipient(models.Model):
    """An address order_updates must not write to again on one channel."""

    #: The channel's configured name.
    channel = models.CharField(_("channel"), max_length=20)
    #: As the channel's class spells it (``normalize_address``): lower-cased for
    #: email, E.164 for SMS.
    address = models.CharField(_("address"), max_length=320)
    reason = models.CharField(
        _("reason"), max_length=20, choices=SuppressionReason.choices
    )
    notification = models.ForeignKey(
        Notification,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("caused by"),
    )
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed recipient")
        verbose_name_plural = _("suppressed recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address"], name="order_updates_suppressed_once"
            )
        ]

    def __str__(self) -> str:
        return "%s %s (%s)" % (self.channel, self.address, self.get_reason_display())


class NotificationTypeSetting(models.Model):
    """A merchant's switch for one notification type (on by default)."""

    type = models.CharField(_("notification type"), max_length=50, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("notification type setting")
        verbose_name_plural = _("notification type settings")

    def __str__(self) -> str:
        return "%s: %s" % (self.type, "on" if self.enabled else "off")


class SweeperRun(models.Model):
    """When the outbox sweeper last ran, and what it did (a single row).

    The health check (``manage.py order_updates_health``) fails when it is old:
    without the sweeper, rows whose task was lost would wait forever.
    """

    finished_at = models.DateTimeField(_("finished at"), default=timezone.now)
    recovered = models.PositiveIntegerField(_("recovered"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    queued = models.PositiveIntegerField(_("queued"), default=0)
    #: Due rows still waiting when its time budget ran out (0: it caught up).
    remaining = models.PositiveIntegerField(_("remaining"), default=0)

    class Meta:
        verbose_name = _("sweeper run")
        verbose_name_plural = _("sweeper runs")

    def __str__(self) -> str:
        return "sweep at %s" % self.finished_at.isoformat()
