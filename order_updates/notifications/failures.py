"""Notifications that failed for good or bounced: what follows their record.

The code that records such a failure (the worker's
:mod:`~order_updates.notifications.delivery` and its sweeper, delivery
:mod:`~order_updates.notifications.feedback`) hands the failures to
:func:`consume_failures` inside the transaction that records them, and to
:func:`announce_failures` once that transaction has committed.

Failure consumers are the app's own followers, registered in
``AppConfig.ready()`` (the outbound webhooks' "notification.failed" and
"notification.bounced" deliveries): they write in the same transaction, so the
failure and what they write commit together or not at all. The public
``notification_failed`` signal is for everyone else: it is sent after the
commit, robustly, so that no receiver can break or roll back the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from order_updates import signals
from order_updates.core.events import send_signal
from order_updates.models import Notification

#: ``(notification, error)`` pairs: each notification's state is already its
#: new one ("failed" or "bounced"), ``error`` the text recorded with it.
Failures = list[tuple[Notification, str]]
#: What a consumer returns is ignored.
FailureConsumer = Callable[[Failures], Any]

_consumers: list[FailureConsumer] = []


def register_failure_consumer(consumer: FailureConsumer) -> None:
    """Have ``consumer(failures)`` run inside the transaction that records them.

    It gets every failure of one transaction at once (a worker's batch may fail
    many rows): one call, so it can write them together.
    """
    if consumer not in _consumers:
        _consumers.append(consumer)


def consume_failures(failures: Iterable[tuple[Notification, str]]) -> None:
    """Run the failure consumers; call it inside the recording transaction.

    An exception is not caught: it rolls the record of the failures back too.
    """
    failures = list(failures)
    if not failures:
        return
    for consumer in _consumers:
        consumer(failures)


def announce_failures(failures: Iterable[tuple[Notification, str]]) -> None:
    """Send ``notification_failed`` for each failure; call it after the commit.

    A receiver that raises is logged, and the others still run.
    """
    for notification, error in failures:
        send_signal(
            signals.notification_failed,
            Notification,
            notification=notification,
            error=error,
        )
