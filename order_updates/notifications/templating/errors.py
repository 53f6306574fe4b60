"""Errors raised while rendering or saving notification templates.

They live in :mod:`order_updates.exceptions` with the rest of the hierarchy.
"""

from order_updates.exceptions import TemplateError, TemplateValidationError

__all__ = ["TemplateError", "TemplateValidationError"]
