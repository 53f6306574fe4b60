"""Sending order_updates' signals so that one broken receiver harms nothing else.

Signals go out after the change is committed (or the message sent): raising from
a receiver could only lose work that already happened, so every receiver runs,
and one that fails is logged with its traceback.
"""

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("order_updates.signals")


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """``signal.send_robust(...)``, logging each receiver that raised."""
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "Receiver %r of an order_updates signal failed.",
                receiver,
                exc_info=response,
            )
