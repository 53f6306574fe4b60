"""An SMS provider that prints texts instead of sending them (development)."""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from typing import TextIO

from order_updates.notifications.channels.base import SendResult
from order_updates.notifications.channels.sms.base import BaseSMSProvider, sms_segments

logger = logging.getLogger(__name__)


class ConsoleSMSProvider(BaseSMSProvider):
    """Writes each SMS to standard output (like Django's console email backend)."""

    name = "console"

    def __init__(self, *, sender: str = "", stream: TextIO | None = None):
        super().__init__(sender=sender)
        self.stream = stream
        self._lock = threading.Lock()

    def send_sms(self, to: str, body: str, *, idempotency_key: str) -> SendResult:
        """Print the text with its sender, recipient and segment count."""
        message_id = uuid.uuid4().hex
        encoding, segments = sms_segments(body)
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(
                "SMS %s\nFrom: %s\nTo: %s\nEncoding: %s, %d segment(s)\n\n%s\n%s\n"
                % (
                    message_id,
                    self.sender or "(no sender set)",
                    to,
                    encoding,
                    segments,
                    body,
                    "-" * 79,
                )
            )
            stream.flush()
        logger.debug("Console SMS %s to %s", message_id, to)
        return SendResult(provider=self.name, message_id=message_id)
