"""A channel for tests: records messages in :data:`outbox` instead of sending.

In your test settings::

    ORDER_UPDATES = {
        "CHANNELS": {"email": "order_updates.notifications.channels.test.TestChannel"},
    }

then read ``order_updates.notifications.channels.test.outbox`` (a list of
:class:`~order_updates.notifications.channels.base.OutgoingMessage`), make sends
fail with :meth:`TestChannel.fail_next`, and call :func:`reset` before each test.
"""

from __future__ import annotations

import itertools
import threading

from order_updates.exceptions import ChannelError, TransientChannelError
from order_updates.notifications.channels.base import OutgoingMessage, SendResult
from order_updates.notifications.channels.email import EmailChannel

#: Every message "sent" by any TestChannel, oldest first.
outbox: list[OutgoingMessage] = []
#: Recipients given to ``forget_recipient()`` (after a ``RecipientGone``).
forgotten: list[str] = []

_failures: list[ChannelError] = []
_lock = threading.Lock()
_counter = itertools.count(1)


def reset() -> None:
    """Empty :data:`outbox` and :data:`forgotten`; drop failures not yet raised."""
    with _lock:
        outbox.clear()
        forgotten.clear()
        _failures.clear()


class TestChannel(EmailChannel):
    """Stands in for email: same recipients and message, recorded instead of sent."""

    __test__ = False  # not a pytest test class

    @classmethod
    def fail_next(cls, error: ChannelError | None = None, *, times: int = 1) -> None:
        """Make the next ``times`` sends raise ``error``.

        The default is a :class:`TransientChannelError` (retried by the worker);
        pass ``PermanentChannelError("...")`` or ``RecipientGone("...")`` to test
        the other paths. Failures are shared by every TestChannel, in order.
        """
        with _lock:
            for _ in range(times):
                _failures.append(
                    error or TransientChannelError("TestChannel told to fail.")
                )

    def send(self, message: OutgoingMessage) -> SendResult:
        """Record ``message`` in :data:`outbox`, or raise the next queued failure."""
        with _lock:
            if _failures:
                raise _failures.pop(0)
            outbox.append(message)
            message_id = "test-%d" % next(_counter)
        return SendResult(provider="test", message_id=message_id)

    def forget_recipient(self, recipient: str) -> None:
        """Record ``recipient`` in :data:`forgotten`."""
        with _lock:
            forgotten.append(recipient)

    def check(self) -> list[str]:
        """The test channel needs nothing."""
        return []
