"""Errors raised while rendering or saving notification templates.

They live in :mod:`order_updates.exceptions` with the rest of the hierarchy.
"""

from ..exceptions import TemplateError, TemplateValidationError

__all__ = ["TemplateError", "TemplateValidationError"]
