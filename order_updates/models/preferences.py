"""What each customer wants to hear about, and where."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationPreference(models.Model):
    """One customer's channels per notification category.

    A customer is a user account, or an email address for guests. ``channels``
    maps a category ("order", "shipping") to the channels wanted for it; a
    category that is absent uses the transactional defaults (every channel on,
    but a channel that requires consent, SMS, only with consent; push only with
    a subscription).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="order_updates_preference",
        verbose_name=_("user"),
    )
    #: For guests; lower-cased. Empty for account holders (the user is the key).
    email = models.EmailField(_("email"), blank=True, db_index=True)
    channels = models.JSONField(_("channels per category"), default=dict, blank=True)
    #: When the customer consented to text messages; None means no consent. Used
    #: by every channel whose class has ``requires_consent`` (SMS, or a shop's own).
    sms_consent_at = models.DateTimeField(
        _("SMS consent given at"), null=True, blank=True
    )
    #: IANA time zone for quiet hours; empty means the shop's TIME_ZONE.
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(user__isnull=True),
                name="order_updates_pref_guest_email",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(email=""),
                name="order_updates_pref_has_owner",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user) if self.user_id else self.email


class PushSubscription(models.Model):
    """A browser's Web Push subscription (from PushManager.subscribe())."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="order_updates_push_subscriptions",
        verbose_name=_("user"),
    )
    #: For guests who subscribed on the tracking page; lower-cased.
    email = models.EmailField(_("email"), blank=True, db_index=True)
    endpoint = models.URLField(_("endpoint"), max_length=1000, unique=True)
    p256dh = models.CharField(_("p256dh key"), max_length=200)
    auth = models.CharField(_("auth secret"), max_length=100)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return "%s (%s)" % (self.user or self.email, self.user_agent or self.pk)

    def as_webpush_info(self) -> dict:
        """The ``subscription_info`` dict pywebpush expects."""
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }
