"""Notification templates: Liquid, sandboxed, overridable by shop and merchant.

The defaults are files under ``templates/order_updates/notifications/``; a shop
overrides one with a file at the same path in its own templates, a merchant with
a :class:`~order_updates.models.NotificationTemplate` row, per language.
Templates receive plain data (:func:`build_context`), never model instances.
Functions that render or edit take the channel object (``get_channel("sms")``):
its ``parts``, ``short_text`` and ``template_folder`` say what to render, and its
configured ``name`` keys the merchant's templates.

- :func:`render_notification` is what channels call to render an outbox row;
- :func:`render` renders a type for a channel and language with a given context;
- :func:`validate_template`, :func:`save_template`, :func:`restore_revision`,
  :func:`revert_to_default` and :func:`preview` write and try merchant
  templates (the admin's editor, :mod:`order_updates.admin.templates`, uses them).

Errors are :class:`~order_updates.exceptions.TemplateError` and
:class:`~order_updates.exceptions.TemplateValidationError`.
"""

from order_updates.notifications.templating.context import (
    CONTEXT_KEYS,
    build_context,
    sample_context,
)
from order_updates.notifications.templating.editing import (
    preview,
    restore_revision,
    revert_to_default,
    save_template,
    validate_template,
)
from order_updates.notifications.templating.environment import (
    NotificationEnvironment,
    strict_undefined,
)
from order_updates.notifications.templating.rendering import render, render_notification
from order_updates.notifications.templating.sources import get_sources

__all__ = [
    "CONTEXT_KEYS",
    "NotificationEnvironment",
    "build_context",
    "get_sources",
    "preview",
    "render",
    "render_notification",
    "restore_revision",
    "revert_to_default",
    "sample_context",
    "save_template",
    "strict_undefined",
    "validate_template",
]
