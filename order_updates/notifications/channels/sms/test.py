"""An SMS provider for tests: records texts in :data:`outbox` instead of sending.

Make it the SMS channel's provider::

    "sms": {
        "BACKEND": "order_updates.notifications.channels.sms.SMSChannel",
        "OPTIONS": {
            "provider": "order_updates.notifications.channels.sms.test.TestSMSProvider"
        },
    }

then read :data:`outbox`; call :func:`reset` between tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from order_updates.exceptions import ChannelError, TransientChannelError
from order_updates.notifications.channels.base import SendResult
from order_updates.notifications.channels.sms.base import BaseSMSProvider, sms_segments


@dataclass
class SentSMS:
    """One text the test provider accepted."""

    to: str
    body: str
    sender: str
    idempotency_key: str
    message_id: str
    encoding: str
    segments: int


#: Every SMS "sent", oldest first.
outbox: list[SentSMS] = []

_failures: list[ChannelError] = []
_lock = threading.Lock()


def reset() -> None:
    """Empty :data:`outbox` and forget failures queued with ``fail_next()``."""
    with _lock:
        outbox.clear()
        _failures.clear()


class TestSMSProvider(BaseSMSProvider):
    """Records each SMS in :data:`outbox`; can be told to fail."""

    __test__ = False  # not a pytest test class
    name = "test"

    @classmethod
    def fail_next(cls, error: ChannelError | None = None, *, times: int = 1) -> None:
        """Make the next ``times`` sends raise ``error`` (default: a transient one)."""
        with _lock:
            for _ in range(times):
                _failures.append(
                    error or TransientChannelError("TestSMSProvider told to fail.")
                )

    def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SendResult:
        """Record the text, or raise the next queued failure."""
        encoding, segments = sms_segments(body)
        with _lock:
            if _failures:
                raise _failures.pop(0)
            message_id = "test-sms-%d" % (len(outbox) + 1)
            outbox.append(
                SentSMS(
                    to=to,
                    body=body,
                    sender=self.sender,
                    idempotency_key=idempotency_key,
                    message_id=message_id,
                    encoding=encoding,
                    segments=segments,
                )
            )
        return SendResult(provider=self.name, message_id=message_id)
