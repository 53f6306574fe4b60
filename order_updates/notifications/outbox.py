"""The outbox: notification rows written in the same transaction as the change.

:func:`queue_notifications` runs inside the services' transaction. It writes one
:class:`~order_updates.models.Notification` per event × channel × recipient and,
only once the transaction commits, asks Celery to deliver them. If the broker is
down at that moment nothing is lost: the rows wait in the database and the
sweeper (:func:`order_updates.notifications.delivery.sweep`) queues them again.

It consumes the events every service writes (registered with
:func:`order_updates.core.events.register_consumer` in ``AppConfig.ready()``).
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from order_updates import signals
from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter
from order_updates.core.events import send_signal
from order_updates.core.reads import instances, read_together
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationState,
    NotificationTypeSetting,
    OrderEvent,
    SuppressedRecipient,
)
from order_updates.notifications import queue, quiet_hours
from order_updates.notifications.channels import get_channels
from order_updates.notifications.channels.base import BaseChannel
from order_updates.notifications.preferences import (
    Owner,
    match_preferences,
    preference_owner,
    preferences_query,
    wants,
)
from order_updates.notifications.templating.sources import shop_language
from order_updates.notifications.types import get_notification_types, type_for_event

logger = logging.getLogger(__name__)

#: What the outbox reads of each table (see _FanOut).
SWITCH_FIELDS = ("type", "enabled")
PREFERENCE_FIELDS = tuple(
    field.name for field in NotificationPreference._meta.concrete_fields
)
UNSENT_FIELDS = ("id", "order", "channel", "recipient")


def queue_notifications(
    changes: Sequence[tuple[models.Model, Sequence[OrderEvent]]],
) -> list[Notification]:
    """Write the outbox rows for ``changes``, pairs of (order, its new events).

    Must run inside the transaction that wrote the events. Events with
    ``notify=False``, types that are off, customers who opted out, and what the
    adapter's ``should_notify()`` refuses: no row. Suppressed addresses get a row
    in state "suppressed" so staff can see why. A channel or adapter that raises
    while finding the recipients never fails the caller's transaction: its rows
    are written in state "failed" with the error, for the merchant to see and
    re-send once the cause is fixed.
    """
    notifying = [
        (order, event) for order, events in changes for event in events if event.notify
    ]
    if not notifying:
        return []
    channels = get_channels()
    fan_out = _FanOut(get_adapter(), channels, [order for order, _ in notifying])
    typed = [
        (order, event, notification_type)
        for order, event in notifying
        if (notification_type := type_for_event(event, fan_out.switches)) is not None
    ]
    if not typed:
        return []
    fan_out.find_recipients(channels, [order for order, _, _ in typed])
    now = timezone.now()
    window = app_settings.COALESCE_SECONDS
    rows: list[Notification] = []
    for order, event, notification_type in typed:
        language = fan_out.language(order)
        preference = fan_out.preference(order)
        row = functools.partial(
            _row, order, event, notification_type, language=language, now=now
        )
        for name, channel in channels.items():
            error = fan_out.error(order, name)
            if not error:
                if not wants(preference, notification_type.category, channel):
                    continue
                vetoed, error = fan_out.veto(order, notification_type, channel)
                if vetoed:
                    continue
            if error:
                rows.append(row(name, "", now, error=error))
                continue
            due = now
            if notification_type.coalesce and window:
                due = now + datetime.timedelta(seconds=window)
            if channel.quiet_hours:
                due = quiet_hours.postpone(due, preference.timezone)
            rows.extend(
                row(name, recipient, due)
                for recipient in fan_out.recipients(order, name)
            )
    if not rows:
        return []
    _mark_suppressed(rows, channels)
    Notification.objects.bulk_create(rows, batch_size=app_settings.BULK_BATCH_SIZE)
    _supersede(rows, fan_out.unsent)
    pending = [row for row in rows if row.state == NotificationState.PENDING]
    queue.publish_after_commit((row.pk, row.next_attempt_at) for row in pending)
    if signals.notification_queued.receivers:
        transaction.on_commit(lambda: _announce(rows), robust=True)
    return rows


def _row(
    order: models.Model,
    event: OrderEvent,
    notification_type: Any,
    channel: str,
    recipient: str,
    due: datetime.datetime,
    *,
    language: str,
    now: datetime.datetime,
    error: str = "",
) -> Notification:
    """One unsaved outbox row; with ``error``, a failed one that says why."""
    return Notification(
        order_id=order.pk,
        event=event,
        type=notification_type.code,
        channel=channel,
        recipient=recipient,
        language=language,
        next_attempt_at=due,
        created_at=now,
        state=NotificationState.FAILED if error else NotificationState.PENDING,
        last_error=error,
        dedupe_key=Notification.make_dedupe_key(event.pk, channel, recipient),
    )


class _FanOut:
    """What the outbox needs to know about a batch of orders, found at once:
    the merchant's switches, each customer's preference and language, the
    orders' unsent coalescing messages, the recipients; every error contained
    per order.

    The switches, preferences and unsent messages are one statement
    (:func:`~order_updates.core.reads.read_together`). A batch call that
    raises is retried order by order, so one bad order (or a broken channel)
    costs only its own rows.
    """

    def __init__(
        self, adapter: Any, channels: dict[str, Any], orders: list[models.Model]
    ) -> None:
        self.adapter = adapter
        self.channel_names = list(channels)
        self.errors: dict[tuple[Any, str], str] = {}
        self.vetoes: dict[tuple[Any, str, str], bool] = {}
        self.languages: dict[Any, str] = {}
        self.found: dict[str, dict[Any, list[str]]] = {}
        by_pk = {order.pk: order for order in orders}
        owners: dict[Any, Owner] = {}
        # Orders whose customer the adapter could not tell: reported only if
        # they turn out to need a message (find_recipients).
        self.owner_errors: dict[Any, Exception] = {}
        for pk, order in by_pk.items():
            try:
                owners[pk] = preference_owner(order, adapter)
            except Exception as exc:
                self.owner_errors[pk] = exc
        coalescing = [
            code for code, item in get_notification_types().items() if item.coalesce
        ]
        found = read_together(
            {
                "switches": (NotificationTypeSetting.objects.all(), SWITCH_FIELDS),
                "preferences": (preferences_query(owners), PREFERENCE_FIELDS),
                "unsent": (
                    Notification.objects.filter(
                        order_id__in=list(by_pk),
                        state=NotificationState.PENDING,
                        type__in=coalescing,
                        # Sent again by staff: never superseded.
                        resent_at__isnull=True,
                    ),
                    UNSENT_FIELDS,
                ),
            }
        )
        #: The merchant's switches, as :func:`merchant_switches` gives them.
        self.switches: dict[str, bool] = dict(found["switches"])
        self.preferences = match_preferences(
            owners,
            instances(NotificationPreference, PREFERENCE_FIELDS, found["preferences"]),  # type: ignore[arg-type]
        )
        #: (pk, order pk, channel, recipient) of the orders' pending coalescing
        #: rows written before this change (read before its rows are inserted).
        self.unsent: list[tuple[Any, ...]] = found["unsent"]

    def find_recipients(
        self, channels: dict[str, Any], orders: list[models.Model]
    ) -> None:
        """Find the recipients of ``orders`` (those that get a message)."""
        orders = list({order.pk: order for order in orders}.values())
        for order in orders:
            if order.pk in self.owner_errors:
                self._fail(order, None, self.owner_errors[order.pk])
        for name, channel in channels.items():
            self.found[name] = self._recipients(name, channel, orders)

    def _recipients(
        self, name: str, channel: Any, orders: list[models.Model]
    ) -> dict[Any, list[str]]:
        known = [order for order in orders if order.pk in self.preferences]
        try:
            return channel.recipients_for_orders(known, self.adapter, self.preferences)
        except Exception:
            found = {}
            for order in known:
                try:
                    found[order.pk] = channel.recipients(
                        order, self.adapter, self.preferences[order.pk]
                    )
                except Exception as exc:
                    self._fail(order, name, exc)
            return found

    def _fail(self, order: models.Model, channel: str | None, exc: Exception) -> None:
        logger.exception(
            "Finding who to notify about order %s failed; recorded as a failed "
            "notification.",
            order.pk,
        )
        where = (
            gettext("finding the recipients")
            if channel
            else gettext("reading the customer's preferences")
        )
        message = gettext("Could not queue this message (%(where)s): %(error)s") % {
            "where": where,
            "error": "%s: %s" % (type(exc).__name__, exc),
        }
        for name in [channel] if channel else self.channel_names:
            self.errors[(order.pk, name)] = message

    def preference(self, order: models.Model) -> Any:
        """The customer's preference, or None if it could not be read."""
        return self.preferences.get(order.pk)

    def language(self, order: models.Model) -> str:
        """The shop's language (``LANGUAGES``) the customer reads: ``de`` for an
        adapter's ``de-DE``, the shop's own if it offers not theirs or the
        adapter raises.
        """
        if order.pk not in self.languages:
            try:
                language = self.adapter.get_language(order) or ""
            except Exception:
                logger.exception(
                    "The adapter could not tell order %s's language; using %s.",
                    order.pk,
                    settings.LANGUAGE_CODE,
                )
                language = settings.LANGUAGE_CODE
            self.languages[order.pk] = shop_language(language)
        return self.languages[order.pk]

    def veto(
        self, order: models.Model, notification_type: Any, channel: BaseChannel
    ) -> tuple[bool, str]:
        """Whether the adapter's ``should_notify()`` refuses this order × type ×
        channel (asked once for all the order's events and recipients), and the
        error if it raised.
        """
        key = (order.pk, notification_type.code, channel.name)
        if key not in self.vetoes:
            try:
                allowed = self.adapter.should_notify(order, notification_type, channel)
            except Exception as exc:
                self._fail(order, channel.name, exc)
                return False, self.error(order, channel.name)
            self.vetoes[key] = not allowed
        return self.vetoes[key], ""

    def error(self, order: models.Model, channel: str) -> str:
        """Why no recipient could be found for ``order`` on ``channel`` ('' if ok)."""
        return self.errors.get((order.pk, channel), "")

    def recipients(self, order: models.Model, channel: str) -> list[str]:
        return self.found.get(channel, {}).get(order.pk, [])


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


def _supersede(rows: list[Notification], unsent: list[tuple[Any, ...]]) -> None:
    """Skip every older unsent message that the new ones make out of date.

    Same order, channel and recipient, both of a coalescing type, the older one
    still pending, whatever its age (a text that waited out the night included):
    only the newest goes out, rendered at send time, so it tells the latest
    state, and it carries the older ones' messages to the customer
    (``superseded_by``; see :func:`.templating.context.replaced_messages`); and
    messages never overtake each other (see delivery). ``unsent``
    are the (pk, order pk, channel, recipient) of the orders' pending
    coalescing rows before this change (read with the preferences).
    """
    coalescing = {
        code for code, item in get_notification_types().items() if item.coalesce
    }
    newest: dict[tuple[Any, str, str], Notification] = {}
    older: list[tuple[Any, tuple[Any, str, str]]] = [
        (pk, (order_id, channel, recipient))
        for pk, order_id, channel, recipient in unsent
    ]
    for row in rows:
        if row.type in coalescing and row.state == NotificationState.PENDING:
            key = (row.order_id, row.channel, row.recipient)
            if key in newest:  # two in one change: the earlier one is older
                older.append((newest[key].pk, key))
            newest[key] = row
    reasons: dict[int, dict[str, Any]] = {}
    for pk, key in older:
        winner = newest.get(key)
        if winner is not None:
            reasons[pk] = {
                "reason": gettext("Superseded by a newer update (#%(id)s).")
                % {"id": winner.pk},
                "superseded_by": winner.pk,
            }
    if not reasons:
        return
    Notification.objects.filter(state=NotificationState.PENDING).update_each(
        reasons, state=NotificationState.SKIPPED, updated_at=timezone.now()
    )
    for row in rows:
        if row.pk in reasons:
            row.state = NotificationState.SKIPPED


def _announce(rows: list[Notification]) -> None:
    for row in rows:
        send_signal(signals.notification_queued, Notification, notification=row)
