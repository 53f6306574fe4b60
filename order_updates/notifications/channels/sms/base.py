"""The base of SMS providers, and how many segments a text costs."""

from __future__ import annotations

from order_updates.exceptions import InvalidOption
from order_updates.notifications.channels.base import SendResult

#: GSM 03.38 basic character set (7 bits each; the escape code itself excluded).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table: an escape plus one character, so two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7, UCS2 = "GSM-7", "UCS-2"

#: Capacity of one SMS, alone and as part of a concatenated message (whose user
#: data header takes 6 bytes of the 140), in septets for GSM-7, code units for UCS-2.
SEGMENT_SIZES = {GSM7: (160, 153), UCS2: (70, 67)}


def sms_segments(text: str) -> tuple[str, int]:
    """The encoding ``text`` needs ("GSM-7" or "UCS-2") and how many SMS it takes.

    A two-septet GSM-7 extension character, or a UCS-2 surrogate pair, is never
    split across segments, as phones do. An empty text is 0 segments.
    """
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        encoding = GSM7
        costs = [2 if char in GSM7_EXTENSION else 1 for char in text]
    else:
        encoding = UCS2
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
    single, multi = SEGMENT_SIZES[encoding]
    if not costs:
        return encoding, 0
    if sum(costs) <= single:
        return encoding, 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return encoding, segments


class BaseSMSProvider:
    """A way to hand an SMS to a carrier gateway.

    The SMS channel's option ``provider`` names the class, and its ``OPTIONS``
    are the keyword arguments it is built with: ``sender`` here, and whatever a
    subclass adds (credentials…), as keyword-only arguments. A bad value raises
    :class:`~order_updates.exceptions.InvalidOption`, which reaches the shop
    naming the option's key. Subclasses implement :meth:`send_sms`.
    """

    #: Recorded as the notification's provider.
    name = ""

    def __init__(self, *, sender: str = ""):
        if not isinstance(sender, str):
            raise InvalidOption(
                "sender", "must be a phone number or an alphanumeric sender id."
            )
        #: Who texts come from: an E.164 number or an alphanumeric sender id.
        self.sender = sender

    def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SendResult:
        """Send ``body`` to the E.164 number ``to``.

        Raise
        :class:`~order_updates.exceptions.TransientChannelError`
        or :class:`~order_updates.exceptions.PermanentChannelError`
        on failure.
        Pass ``idempotency_key`` (the notification's id) to the gateway if it
        takes one, so a retried send after a lost answer is not a second SMS.
        """
        raise NotImplementedError(
            "%s.%s must implement send_sms()"
            % (type(self).__module__, type(self).__name__)
        )

    def check(self) -> list[str]:
        """Configuration problems this provider can see without sending.

        Each is a sentence naming the option to fix; the channel adds the key.
        """
        return []
