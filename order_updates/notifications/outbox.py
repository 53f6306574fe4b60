"""The outbox: notification rows written in the same transaction as the change.

:func:`queue_notifications` runs inside the services' transaction. It writes one
:class:`~order_updates.models.Notification` per event × channel × recipient and,
only once the transaction commits, asks Celery to deliver them. If the broker is
down at that moment nothing is lost: the rows wait in the database and the
sweeper (:func:`order_updates.notifications.delivery.sweep`) queues them again.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Sequence
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from order_updates import dispatch, signals
from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    Notification,
    NotificationState,
    OrderEvent,
    SuppressedRecipient,
)
from order_updates.notifications import quiet_hours
from order_updates.notifications.channels import get_channels
from order_updates.notifications.channels.base import BaseChannel
from order_updates.notifications.preferences import preferences_for_orders, wants
from order_updates.notifications.types import (
    get_notification_types,
    merchant_switches,
    type_for_event,
)

logger = logging.getLogger(__name__)

#: Notification ids per Celery task message.
TASK_CHUNK = 50
#: Rows due later than this wait for the sweeper instead of a delayed task, since
#: brokers redeliver long-delayed messages (Redis' visibility timeout is 1 hour).
MAX_COUNTDOWN = 15 * 60


def queue_notifications(
    changes: Sequence[tuple[models.Model, Sequence[OrderEvent]]],
) -> list[Notification]:
    """Write the outbox rows for ``changes``, pairs of (order, its new events).

    Must run inside the transaction that wrote the events. Events with
    ``notify=False``, types that are off, customers who opted out, and what the
    adapter's ``should_notify()`` refuses: no row. Suppressed addresses get a row
    in state "suppressed" so staff can see why.
    """
    typed: list[tuple[models.Model, OrderEvent, Any]] = []
    switches: dict[str, bool] | None = None
    for order, events in changes:
        for event in events:
            if not event.notify:
                continue
            if switches is None:
                switches = merchant_switches()
            notification_type = type_for_event(event, switches)
            if notification_type is not None:
                typed.append((order, event, notification_type))
    if not typed:
        return []

    adapter = get_adapter()
    channels = get_channels()
    preferences = preferences_for_orders([order for order, _, _ in typed])
    now = timezone.now()
    window = app_settings.COALESCE_SECONDS
    rows: list[Notification] = []
    orders = list({order.pk: order for order, _, _ in typed}.values())
    # One call per channel for the whole batch: no query per order.
    recipients = {
        name: channel.recipients_for_orders(orders, adapter, preferences)
        for name, channel in channels.items()
    }
    # The adapter's veto, asked once per order × type × channel (not per event or
    # recipient).
    vetoes: dict[tuple[Any, str, str], bool] = {}
    for order, event, notification_type in typed:
        preference = preferences[order.pk]
        language = adapter.get_language(order)
        for name, channel in channels.items():
            if not wants(preference, notification_type.category, channel):
                continue
            key = (order.pk, notification_type.code, name)
            if key not in vetoes:
                vetoes[key] = not adapter.should_notify(
                    order, notification_type, channel
                )
            if vetoes[key]:
                continue
            for recipient in recipients[name][order.pk]:
                due = now
                if notification_type.coalesce and window:
                    due = now + datetime.timedelta(seconds=window)
                if channel.quiet_hours:
                    due = quiet_hours.postpone(due, preference.timezone)
                rows.append(
                    Notification(
                        order_id=order.pk,
                        event=event,
                        type=notification_type.code,
                        channel=name,
                        recipient=recipient,
                        language=language,
                        next_attempt_at=due,
                        created_at=now,
                        dedupe_key=Notification.make_dedupe_key(
                            event.pk, name, recipient
                        ),
                    )
                )
    if not rows:
        return []
    _mark_suppressed(rows, channels)
    Notification.objects.bulk_create(rows, batch_size=app_settings.BULK_BATCH_SIZE)
    if window:
        _coalesce(rows, now - datetime.timedelta(seconds=window))
    pending = [row for row in rows if row.state == NotificationState.PENDING]
    transaction.on_commit(lambda: _after_commit(rows, pending), robust=True)
    return rows


def enqueue(ids: Sequence[int], countdown: float = 0) -> bool:
    """Ask Celery to deliver these notifications; False if the broker refused.

    A refusal loses nothing: the rows stay pending and the sweeper queues them.
    """
    from order_updates.tasks import deliver_notifications

    ids = list(ids)
    try:
        for start in range(0, len(ids), TASK_CHUNK):
            deliver_notifications.apply_async(
                args=[ids[start : start + TASK_CHUNK]],
                countdown=max(0, countdown) or None,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2},
            )
    except Exception:
        logger.warning(
            "Could not queue %d notification(s); the sweeper will retry them.",
            len(ids),
            exc_info=True,
        )
        return False
    return True


def resend(notification: Notification) -> bool:
    """Send a failed, bounced, suppressed or skipped notification again, now.

    Returns False if it is pending, sending or was sent fine meanwhile.
    """
    done = Notification.objects.filter(
        pk=notification.pk,
        state__in=[
            NotificationState.FAILED,
            NotificationState.BOUNCED,
            NotificationState.SUPPRESSED,
            NotificationState.SKIPPED,
        ],
    ).update(
        state=NotificationState.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        lease_expires_at=None,
        reason="",
        updated_at=timezone.now(),
    )
    if done:
        transaction.on_commit(lambda: enqueue([notification.pk]), robust=True)
    return bool(done)


def _mark_suppressed(
    rows: list[Notification], channels: dict[str, BaseChannel]
) -> None:
    """Rows to suppressed addresses are kept, in state "suppressed", not sent."""
    by_channel: dict[str, set[str]] = {}
    for row in rows:
        address = channels[row.channel].normalize_address(row.recipient)
        by_channel.setdefault(row.channel, set()).add(address)
    query = Q()
    for channel, addresses in by_channel.items():
        query |= Q(channel=channel, address__in=addresses)
    suppressed = {
        (item.channel, item.address): item.get_reason_display()
        for item in SuppressedRecipient.objects.filter(query)
    }
    for row in rows:
        key = (row.channel, channels[row.channel].normalize_address(row.recipient))
        reason = suppressed.get(key)
        if reason is not None:
            row.state = NotificationState.SUPPRESSED
            row.reason = gettext("Address suppressed: %(reason)s.") % {"reason": reason}


def _coalesce(rows: list[Notification], since: datetime.datetime) -> None:
    """Skip older pending messages that the new ones make out of date.

    Same order, channel and recipient, both of a coalescing type, the older one
    created within the window and not yet sent: only the newest goes out, and it
    is rendered at send time, so it tells the latest state.
    """
    coalescing = [
        code for code, item in get_notification_types().items() if item.coalesce
    ]
    newest: dict[tuple[Any, str, str], Notification] = {}
    for row in rows:
        if row.type in coalescing and row.state == NotificationState.PENDING:
            newest[(row.order_id, row.channel, row.recipient)] = row
    if not newest:
        return
    candidates = (
        Notification.objects.filter(
            order_id__in={key[0] for key in newest},
            state=NotificationState.PENDING,
            type__in=coalescing,
            created_at__gte=since,
        )
        .exclude(pk__in=[row.pk for row in newest.values()])
        .values_list("pk", "order_id", "channel", "recipient")
    )
    superseded: dict[int, list[int]] = {}
    for pk, order_id, channel, recipient in candidates:
        winner = newest.get((order_id, channel, recipient))
        if winner is not None:
            superseded.setdefault(winner.pk, []).append(pk)
    for winner_pk, pks in superseded.items():
        Notification.objects.filter(pk__in=pks, state=NotificationState.PENDING).update(
            state=NotificationState.SKIPPED,
            reason=gettext("Superseded by a newer update (#%(id)s).")
            % {"id": winner_pk},
            updated_at=timezone.now(),
        )
    skipped = {pk for pks in superseded.values() for pk in pks}
    for row in rows:
        if row.pk in skipped:
            row.state = NotificationState.SKIPPED


def _after_commit(rows: list[Notification], pending: list[Notification]) -> None:
    now = timezone.now()
    by_countdown: dict[int, list[int]] = {}
    for row in pending:
        if row.state != NotificationState.PENDING:
            continue
        wait = (row.next_attempt_at - now).total_seconds()
        if wait <= MAX_COUNTDOWN:
            # Rounded up: a task that arrives before its row is due finds nothing to
            # claim, and the row would wait for the sweeper.
            by_countdown.setdefault(max(0, math.ceil(wait)), []).append(row.pk)
    for countdown, ids in sorted(by_countdown.items()):
        enqueue(ids, countdown=countdown)
    for row in rows:
        dispatch.send(signals.notification_queued, Notification, notification=row)
