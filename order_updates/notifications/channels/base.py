"""The base of every channel, and what crosses between the outbox and a channel.

A channel turns one :class:`~order_updates.models.Notification` into a message on
its medium. The delivery code calls, in order:

1. :meth:`BaseChannel.recipients` when a change is queued: who gets a row;
2. :meth:`BaseChannel.build_message` in the worker: render and package;
3. :meth:`BaseChannel.send`: hand it to the provider, raising
   :class:`~order_updates.exceptions.TransientChannelError` (retry later) or
   :class:`~order_updates.exceptions.PermanentChannelError`
   (give up now) on failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from order_updates.conf import setting_name
from order_updates.core.adapter import get_adapter
from order_updates.exceptions import InvalidOption
from order_updates.notifications.templating.rendering import render_notification
from order_updates.notifications.templating.sources import shop_language

if TYPE_CHECKING:
    from django.db.models import Model
    from django_stubs_ext import StrOrPromise

    from order_updates.core.adapter import DefaultOrderAdapter
    from order_updates.models import Notification, NotificationPreference


@dataclass
class OutgoingMessage:
    """A rendered notification, ready for a channel's provider."""

    notification_id: int
    channel: str
    type: str
    #: Email address, E.164 number, or push subscription id.
    recipient: str
    #: The language the message is written in (one of the shop's ``LANGUAGES``).
    language: str
    #: Email subject or push title.
    subject: str = ""
    #: Email text part, SMS text or push body.
    text: str = ""
    #: Email HTML part ('' for other channels).
    html: str = ""
    #: Where a click should go (push), or the link an SMS carries.
    url: str = ""
    #: Extra message headers (email: List-Unsubscribe…).
    headers: dict[str, str] = field(default_factory=dict)
    #: Provider metadata (anymail ``metadata``): notification id, order number…
    metadata: dict[str, str] = field(default_factory=dict)
    #: Provider tags (anymail ``tags``).
    tags: list[str] = field(default_factory=list)


@dataclass
class SendResult:
    """What the provider said when it accepted a message."""

    provider: str
    message_id: str = ""


class BaseChannel:
    """One way of reaching customers.

    Subclasses set ``parts`` and the capabilities below, and implement
    :meth:`recipients` and :meth:`send`. What a channel does is decided here, on
    its class, never by the name it is configured under: an ``SMSChannel``
    registered as ``"text"`` behaves exactly as one registered as ``"sms"``.

    A channel is built from settings as ``BACKEND(name, **OPTIONS)``: options are
    keyword arguments of ``__init__``. A subclass that takes options of its own
    lists them as keyword-only arguments and passes ``quiet_hours`` on, so that a
    misspelt option is reported by the system checks.
    """

    #: Template parts this channel renders: subset of "subject", "text", "html".
    parts: tuple[str, ...] = ("text",)
    #: Whether its text is one short paragraph: rendering collapses all whitespace,
    #: line breaks included (SMS, push). Otherwise paragraphs are kept.
    short_text: bool = False
    #: How customers see the channel named in a sentence, lower-case ("Unsubscribe
    #: from email updates"): a lazy translation. ``None``: the configured name.
    label: StrOrPromise | None = None
    #: Whether customers get nothing on this channel until they opt in. Consent
    #: is recorded once, as consent to text messages
    #: (``NotificationPreference.sms_consent_at``), and is used by every channel
    #: that requires consent.
    requires_consent: bool = False
    #: Whether messages wait out ``QUIET_HOURS`` in the customer's time zone. The
    #: option ``quiet_hours`` overrides it for one configured channel.
    quiet_hours: bool = False
    #: The folder of its default templates, under ``order_updates/notifications/``.
    #: Templates are looked up in the folder of the configured name first, then
    #: in this one; the base uses the email templates.
    template_folder: str = "email"
    #: Whether a message that bounced on another channel may be sent here instead,
    #: and in which order: the lowest number among the channels that can reach the
    #: customer wins. ``None``: never a fallback.
    fallback_priority: int | None = None

    def __init__(self, name: str, *, quiet_hours: bool | None = None):
        self.name = name
        if quiet_hours is not None:
            if not isinstance(quiet_hours, bool):
                raise InvalidOption(
                    "quiet_hours", "must be True or False, not %r." % (quiet_hours,)
                )
            self.quiet_hours = quiet_hours
        if self.label is None:
            self.label = name

    def __repr__(self) -> str:
        return "<%s %r>" % (type(self).__name__, self.name)

    def option_name(self, option: str) -> str:
        """The settings key of one of this channel's options, for messages."""
        return setting_name("CHANNELS", self.name, "OPTIONS", option)

    def normalize_address(self, address: str) -> str:
        """An address as it is compared and stored (suppressions): stripped.

        Channels whose addresses have several spellings override it (email
        lower-cases, SMS gives the E.164 form).
        """
        return (address or "").strip()

    def recipients(
        self,
        order: Model,
        adapter: DefaultOrderAdapter,
        preference: NotificationPreference,
    ) -> list[str]:
        """Addresses on this channel that should hear about ``order``.

        ``preference`` is the customer's (possibly unsaved, default) preference;
        whether the customer wants this channel at all is checked by the caller.
        """
        raise NotImplementedError(
            "%s.%s must implement recipients()"
            % (type(self).__module__, type(self).__name__)
        )

    def recipients_for_orders(
        self,
        orders: list[Model],
        adapter: DefaultOrderAdapter,
        preferences: dict[Any, NotificationPreference],
    ) -> dict[Any, list[str]]:
        """:meth:`recipients` for many orders at once: ``{order pk: addresses}``.

        Bulk changes call this once per batch. The default asks
        :meth:`recipients` per order; a channel whose recipients come from the
        database overrides it with one query for the whole batch.
        """
        return {
            order.pk: self.recipients(order, adapter, preferences[order.pk])
            for order in orders
        }

    def build_message(
        self,
        notification: Notification,
        order: Model,
        rendered: dict[str, str] | None = None,
    ) -> OutgoingMessage:
        """Package ``notification`` into a message.

        ``rendered`` are its rendered template parts (the worker renders a whole
        batch with the customer's time zone, and sets ``notification.language``
        to the language it rendered them in); without them, the templates are
        rendered here (templating raises on errors).
        """
        if rendered is None:
            rendered = render_notification(notification, order, self)
        return OutgoingMessage(
            notification_id=notification.pk,
            channel=self.name,
            type=notification.type,
            recipient=notification.recipient,
            language=shop_language(notification.language),
            subject=rendered.get("subject", ""),
            text=rendered.get("text", ""),
            html=rendered.get("html", ""),
            url=rendered.get("url", ""),
            metadata={
                "order_updates_notification": str(notification.pk),
                "order_updates_type": notification.type,
                "order_updates_order": get_adapter().get_number(order),
            },
            tags=["order_updates", notification.type],
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand ``message`` to the provider; raise a :class:`ChannelError` if it fails.

        Use ``message.notification_id`` as the idempotency key where the provider
        takes one, so a retried send after a lost answer is not a second message.
        """
        raise NotImplementedError(
            "%s.%s must implement send()" % (type(self).__module__, type(self).__name__)
        )

    def send_batch(
        self, messages: list[OutgoingMessage]
    ) -> list[SendResult | Exception]:
        """Send several messages; each one's result, or the exception it raised.

        The worker hands a channel all of a batch's messages at once. The default
        calls :meth:`send` for each; a channel that can share work between them
        (one SMTP connection for all the emails) overrides it. An error about
        one message must not stop the others.
        """
        results: list[SendResult | Exception] = []
        for message in messages:
            try:
                results.append(self.send(message))
            except Exception as exc:
                results.append(exc)
        return results

    def check(self) -> list[str]:
        """Configuration problems, each a sentence naming the setting to fix.

        Use :meth:`option_name` to name an option's key.
        """
        return []

    def staff_recipients(self, user: Any) -> list[str]:
        """A staff member's own addresses on this channel, for test sends.

        The template editor sends a test only there, never to an address typed
        in. The default has none; email uses the account's address.
        """
        return []

    def staff_recipients_hint(self, user: Any) -> StrOrPromise:
        """How a staff member gets an address here when :meth:`staff_recipients`
        finds none: the template editor shows it ('' says nothing more).
        """
        return ""

    def complete_text(self, text: str, url: str) -> str:
        """The text as sent, from the rendered text and link (SMS adds the link
        when the template left it out); previews and test sends show it too.
        """
        return text

    def segments(self, text: str) -> tuple[str, int] | None:
        """How a text is billed on this channel: ``(encoding, messages)``.

        None where length does not matter; SMS counts GSM-7 or UCS-2 segments.
        """
        return None

    def forget_recipient(self, recipient: str) -> None:
        """Called after :class:`RecipientGone`; drop stored data for it (optional)."""
