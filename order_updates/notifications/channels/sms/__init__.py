"""SMS: a channel that hands texts to the provider named in settings.

``ORDER_UPDATES["SMS_PROVIDER"]`` is the dotted path of a
:class:`~order_updates.notifications.channels.sms.base.BaseSMSProvider`
subclass: ``console`` (the default, for development), ``twilio`` or ``test``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import phonenumbers
from phonenumber_field.phonenumber import to_python

from order_updates.conf import app_settings
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.notifications.channels.base import (
    BaseChannel,
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
)
from order_updates.notifications.channels.sms.base import BaseSMSProvider, sms_segments

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.core.adapter import DefaultOrderAdapter
    from order_updates.models import Notification, NotificationPreference

__all__ = ["BaseSMSProvider", "SMSChannel", "normalize_phone", "sms_segments"]

logger = logging.getLogger(__name__)


def normalize_phone(value: Any) -> str:
    """``value`` as an E.164 number, or '' if it is not a valid phone number.

    National numbers are read in ``PHONENUMBER_DEFAULT_REGION``, as
    django-phonenumber-field does.
    """
    if not value:
        return ""
    if not isinstance(value, phonenumbers.PhoneNumber):
        value = str(value)
    number = to_python(value)
    if not number or not number.is_valid():
        return ""
    return number.as_e164


class SMSChannel(BaseChannel):
    """Texts to the order's phone number, for customers who agreed to SMS."""

    parts = ("text",)

    def __init__(self, name: str):
        super().__init__(name)
        self._provider: BaseSMSProvider | None = None

    @property
    def provider(self) -> BaseSMSProvider:
        """The configured provider (built on first use)."""
        if self._provider is None:
            provider = app_settings.SMS_PROVIDER
            self._provider = provider() if isinstance(provider, type) else provider
        return self._provider

    def recipients(
        self,
        order: Model,
        adapter: DefaultOrderAdapter,
        preference: NotificationPreference,
    ) -> list[str]:
        """The order's valid phone number, if the customer consented to SMS."""
        if preference.sms_consent_at is None:
            return []
        number = normalize_phone(adapter.get_phone(order))
        return [number] if number else []

    def build_message(
        self,
        notification: Notification,
        order: Model,
        rendered: dict[str, str] | None = None,
    ) -> OutgoingMessage:
        """Render the text; add the tracking link if the template left it out."""
        message = super().build_message(notification, order, rendered)
        text = message.text.strip()
        if message.url and message.url not in text:
            text = "%s\n%s" % (text, message.url) if text else message.url
        message.text = text
        return message

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the text to the provider; log its length in segments."""
        if not message.text.strip():
            raise PermanentChannelError(
                "Nothing to send: the SMS for notification %s is empty."
                % message.notification_id
            )
        encoding, segments = sms_segments(message.text)
        logger.info(
            "SMS for notification %s: %d characters, %s, %d segment(s).",
            message.notification_id,
            len(message.text),
            encoding,
            segments,
            extra={
                "notification_id": message.notification_id,
                "sms_encoding": encoding,
                "sms_segments": segments,
            },
        )
        return self.provider.send_sms(
            message.recipient,
            message.text,
            idempotency_key=str(message.notification_id),
        )

    def check(self) -> list[str]:
        """Configuration problems of the SMS provider."""
        try:
            provider = app_settings.SMS_PROVIDER
        except OrderUpdatesConfigurationError as exc:
            return [str(exc)]
        return list(provider.check())
