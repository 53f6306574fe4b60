"""Merchant overrides of the notification templates, with their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationTemplate(models.Model):
    """A merchant's version of one notification type × channel × language.

    While ``active``, it replaces the default template file. Which parts a channel
    uses: email subject, text and HTML; SMS text; push subject (title) and text.
    """

    type = models.CharField(_("notification type"), max_length=50)
    channel = models.CharField(_("channel"), max_length=20)
    language = models.CharField(_("language"), max_length=15)
    subject = models.TextField(_("subject"), blank=True)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Off: the default template is used instead."),
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["type", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["type", "channel", "language"],
                name="order_updates_template_once",
            )
        ]

    def __str__(self) -> str:
        return "%s / %s / %s" % (self.type, self.channel, self.language)


class NotificationTemplateRevision(models.Model):
    """A saved state of a template: every save, restore and revert adds one."""

    template = models.ForeignKey(
        NotificationTemplate,
        on_delete=models.CASCADE,
        related_name="revisions",
        verbose_name=_("template"),
    )
    subject = models.TextField(_("subject"), blank=True)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    #: False for the revision that records a revert to the default file.
    active = models.BooleanField(_("active"), default=True)
    comment = models.CharField(_("comment"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("template revision")
        verbose_name_plural = _("template revisions")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return "%s @ %s" % (self.template, self.created_at)
