"""Errors raised while rendering or saving notification templates."""

from __future__ import annotations

from ..exceptions import OrderUpdatesError


class TemplateError(OrderUpdatesError):
    """A notification template could not be found or rendered.

    The message says which template failed and why; the delivery worker stores it
    on the notification it marks failed.
    """


class TemplateValidationError(TemplateError, ValueError):
    """A merchant's template was refused: ``errors`` maps each field to its problems.

    Fields are the :class:`~order_updates.models.NotificationTemplate` field names
    (``subject``, ``body_text``, ``body_html``), or ``__all__`` for problems that
    concern no single field, as Django forms expect.
    """

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        summary = "; ".join(
            "%s: %s" % (field, " ".join(messages)) for field, messages in errors.items()
        )
        super().__init__("The template is invalid. %s" % summary)
