"""Exceptions raised by order_updates.

Errors about a request (an unknown status, a forbidden transition) derive from
:class:`OrderUpdatesError` and from the matching built-in, so generic handlers catch
them. Configuration errors derive from Django's ``ImproperlyConfigured`` and
deliberately not from :class:`OrderUpdatesError`, so no "fail silently" path can
swallow a broken set-up.
"""

from django.core.exceptions import ImproperlyConfigured


class OrderUpdatesError(Exception):
    """Base class of every runtime error raised by order_updates."""


class UnknownStatus(OrderUpdatesError, ValueError):
    """A status code that the pipeline does not define."""

    def __init__(self, code: str, known: "list[str] | None" = None):
        self.code = code
        self.known = list(known or [])
        message = "Unknown order status %r." % code
        if self.known:
            message += " Known statuses: %s." % ", ".join(self.known)
        super().__init__(message)


class InvalidTransition(OrderUpdatesError, ValueError):
    """The pipeline does not allow moving an order from one status to another."""

    def __init__(self, from_status: str, to_status: str, allowed: "list[str]"):
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = list(allowed)
        if self.allowed:
            hint = "Allowed from %r: %s." % (from_status, ", ".join(self.allowed))
        else:
            hint = "%r is a terminal status: no further change is allowed." % (
                from_status
            )
        super().__init__(
            "Cannot move an order from %r to %r. %s" % (from_status, to_status, hint)
        )


class OrderNotTracked(OrderUpdatesError, LookupError):
    """The order has no status yet (tracking has not started)."""


class OrderUpdatesConfigurationError(ImproperlyConfigured):
    """order_updates is configured wrongly; the message names the setting to fix."""
