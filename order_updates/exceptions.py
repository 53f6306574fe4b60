"""Exceptions raised by order_updates.

Errors about a request (an unknown status, a forbidden transition) derive from
:class:`OrderUpdatesError` and from the matching built-in, so generic handlers catch
them. Configuration errors derive from Django's ``ImproperlyConfigured`` and
deliberately not from :class:`OrderUpdatesError`, so no "fail silently" path can
swallow a broken set-up.
"""

from typing import Any

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


class InvalidInput(OrderUpdatesError, ValueError):
    """A service refused an argument before writing anything; ``argument`` names it.

    ``argument`` is the keyword's name (``"message"``, ``"data"``, ``"status"``…),
    with a path into it where that helps (``"data['items'][2]"``); the message
    says what is wrong and how to fix it.
    """

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(message)


class InvalidInputType(InvalidInput, TypeError):
    """An argument of the wrong type: a number where text belongs, a list for a
    status. Also a ``TypeError``, so generic handlers of either kind catch it.
    """


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


class InvalidPushSubscription(OrderUpdatesError, ValueError):
    """A browser's push subscription was refused; ``field`` names the bad part.

    ``field`` is ``"endpoint"``, ``"keys.p256dh"`` or ``"keys.auth"`` (the names in
    ``PushSubscription.toJSON()``), or ``""`` when the whole body is unusable.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class NoTestAddress(OrderUpdatesError, ValueError):
    """A test send was asked for, but the staff member has no address on the channel."""


class ChannelError(OrderUpdatesError):
    """Sending failed. ``transient`` says whether trying again may succeed."""

    transient = True

    def __init__(self, message: str, *, provider_response: Any = None):
        super().__init__(message)
        self.provider_response = provider_response


class TransientChannelError(ChannelError):
    """A failure worth retrying: timeouts, rate limits, 5xx answers."""

    transient = True


class PermanentChannelError(ChannelError):
    """A failure that retrying won't fix: a rejected address, bad credentials."""

    transient = False


class RecipientGone(PermanentChannelError):
    """The recipient no longer exists (a push subscription answered 404/410)."""


class OrderUpdatesConfigurationError(ImproperlyConfigured):
    """order_updates is configured wrongly; the message names the setting to fix."""


class InvalidOption(OrderUpdatesConfigurationError):
    """A channel's or provider's option has a value it cannot use.

    Raised by their ``__init__``; ``option`` is the keyword argument's name. When
    the part was built from settings, the error that reaches you names the full
    key instead (``ORDER_UPDATES['CHANNELS']['sms']['OPTIONS']['provider']…``).
    """

    def __init__(self, option: str, message: str):
        self.option = option
        #: What is wrong, as the end of a sentence that starts with the key.
        self.problem = message
        super().__init__("Option %r %s" % (option, message))


class UnsafeWebhookTarget(OrderUpdatesError, ValueError):
    """A webhook URL that order_updates refuses to post to: not http(s), or an
    address on a private, loopback or link-local network (unless
    ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` allows them).
    """
