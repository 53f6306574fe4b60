"""SMS: a channel that hands texts to the provider named in its options.

The channel's option ``provider`` names a
:class:`~order_updates.notifications.channels.sms.base.BaseSMSProvider`
subclass, like a channel itself: a dotted path, a class, or
``{"BACKEND": ..., "OPTIONS": {...}}``. Shipped: ``console`` (the default, for
development), ``twilio`` and ``test``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from order_updates.conf import app_settings, load_component
from order_updates.core.adapter import DefaultOrderAdapter, get_adapter
from order_updates.core.phones import normalize_phone
from order_updates.exceptions import PermanentChannelError
from order_updates.notifications.channels.base import (
    BaseChannel,
    OutgoingMessage,
    SendResult,
)
from order_updates.notifications.channels.sms.base import BaseSMSProvider, sms_segments

if TYPE_CHECKING:
    from django.db.models import Model
    from django_stubs_ext import StrOrPromise

    from order_updates.models import Notification, NotificationPreference

__all__ = ["BaseSMSProvider", "SMSChannel", "normalize_phone", "sms_segments"]

logger = logging.getLogger(__name__)

#: The provider when the channel's options name none: prints texts (development).
DEFAULT_PROVIDER = "order_updates.notifications.channels.sms.console.ConsoleSMSProvider"


class SMSChannel(BaseChannel):
    """Texts to the order's phone number, for customers who agreed to them.

    Options: ``provider`` (default: the console provider) and ``quiet_hours``.
    """

    parts = ("text",)
    short_text = True
    label = _("text message")
    requires_consent = True
    quiet_hours = True
    template_folder = "sms"
    fallback_priority = 10

    def __init__(
        self,
        name: str,
        *,
        provider: Any = DEFAULT_PROVIDER,
        quiet_hours: bool | None = None,
    ):
        super().__init__(name, quiet_hours=quiet_hours)
        # Checked now (it imports, takes these options); built on first use.
        self.provider_setting = load_component(
            provider, self.option_name("provider"), base=BaseSMSProvider
        )
        self._provider: BaseSMSProvider | None = None

    @property
    def provider(self) -> BaseSMSProvider:
        """The configured provider (built on first use)."""
        if self._provider is None:
            self._provider = self.provider_setting.build()
        return self._provider

    def normalize_address(self, address: str) -> str:
        """A phone number in E.164 form (``+14155550100``); else as given, stripped."""
        return normalize_phone(address) or (address or "").strip()

    def recipients(
        self,
        order: Model,
        adapter: DefaultOrderAdapter,
        preference: NotificationPreference,
    ) -> list[str]:
        """The order's valid phone number, in E.164 form.

        Consent is the caller's to check (``requires_consent``), as for every
        channel that requires it.
        """
        number = normalize_phone(adapter.get_phone(order))
        return [number] if number else []

    def staff_recipients(self, user: Any) -> list[str]:
        """The staff member's own number: the adapter's ``get_user_phone()``."""
        number = normalize_phone(get_adapter().get_user_phone(user))
        return [number] if number else []

    def staff_recipients_hint(self, user: Any) -> StrOrPromise:
        """Where the number comes from: the setting, or the account's field."""
        path = app_settings.USER_PHONE_FIELD
        if path:
            return _(
                "Give your account a valid phone number: it is read from the "
                "user's %(field)s."
            ) % {"field": path}
        if type(get_adapter()).get_user_phone is DefaultOrderAdapter.get_user_phone:
            return _(
                "Users have no phone number until the shop's settings say where it "
                "is: set %(setting)s to the user field that holds it, e.g. "
                "%(example)s."
            ) % {
                "setting": 'ORDER_UPDATES["USER_PHONE_FIELD"]',
                "example": '"profile__phone"',
            }
        return _("Give your account a valid phone number.")

    def segments(self, text: str) -> tuple[str, int]:
        """The encoding (GSM-7 or UCS-2) and number of SMS segments of ``text``."""
        return sms_segments(text)

    def build_message(
        self,
        notification: Notification,
        order: Model,
        rendered: dict[str, str] | None = None,
    ) -> OutgoingMessage:
        """Render the text; add the tracking link if the template left it out."""
        message = super().build_message(notification, order, rendered)
        message.text = self.complete_text(message.text, message.url)
        return message

    def complete_text(self, text: str, url: str) -> str:
        """The text with the tracking link, if the template left it out."""
        text = text.strip()
        if url and url not in text:
            text = "%s\n%s" % (text, url) if text else url
        return text

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
        """Configuration problems of the SMS provider, naming its key."""
        try:
            provider = self.provider
        except ImproperlyConfigured as exc:
            return [str(exc)]
        return [
            "%s: %s" % (self.provider_setting.name, problem)
            for problem in provider.check()
        ]
