"""Delivery feedback: what the email provider reports after a message was sent.

django-anymail turns every ESP's webhook into one ``tracking`` signal;
:func:`handle_tracking_event` receives it (connected by
:func:`connect_receivers`) and hands a provider-neutral report to
:func:`record_delivery_feedback`, which:

* records it once per provider event id
  (:class:`~order_updates.models.DeliveryFeedback`);
* moves the notification through a one-way state machine
  (sent → delivered → bounced) with conditional UPDATEs, so late, repeated and
  concurrent reports cannot move a row backwards;
* suppresses an address that hard-bounced or complained, and turns the channel
  off in the customer's preferences when the provider reports an unsubscribe;
* after a bounce, queues the same message on a fallback channel (SMS, by its
  ``fallback_priority``) when the customer can be reached there and wants it;
* writes a staff-only ``delivery_feedback`` event to the order's timeline.

Whatever a provider sends is recorded: values the database cannot store (NUL
characters, lone surrogates, NaN, times out of range, objects where text
belongs) are cleaned or coerced first. A report that still cannot be recorded
is logged and dropped (the webhook answers 200, so the provider stops
retrying); only trouble on our side (the database is down) fails the webhook,
so that the provider tries again later.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext

from order_updates import signals
from order_updates.core import validation
from order_updates.core.adapter import get_adapter
from order_updates.core.events import send_signal
from order_updates.core.timeline import add_delivery_feedback
from order_updates.models import (
    DeliveryFeedback,
    Notification,
    NotificationPreference,
    NotificationState,
    OrderEvent,
    SuppressionReason,
)
from order_updates.notifications import failures, queue, quiet_hours
from order_updates.notifications.channels import get_channel, get_channels
from order_updates.notifications.channels.base import BaseChannel
from order_updates.notifications.preferences import (
    is_suppressed,
    preference_for_order,
    suppress,
    unsubscribe,
    wants,
)
from order_updates.notifications.types import get_notification_types

logger = logging.getLogger(__name__)

__all__ = [
    "FeedbackResult",
    "connect_receivers",
    "find_notification",
    "handle_tracking_event",
    "record_delivery_feedback",
]

#: The metadata key the channels put on every message (see channels.base).
METADATA_KEY = "order_updates_notification"

# Provider-neutral event types: anymail's EventType values.
DELIVERED = "delivered"
OPENED = "opened"
CLICKED = "clicked"
BOUNCED = "bounced"
REJECTED = "rejected"
FAILED = "failed"
COMPLAINED = "complained"
UNSUBSCRIBED = "unsubscribed"

#: Reports that prove the message arrived.
DELIVERY_PROOF = {DELIVERED, OPENED, CLICKED}
#: Reports that the message will never arrive.
NON_DELIVERY = {BOUNCED, REJECTED, FAILED}

#: Where a row may come from when it moves to each state. One way only: nothing
#: leaves "bounced", and "delivered" never goes back to "sent". "sending" is
#: included because a fast provider may report before the worker records "sent".
ALLOWED_FROM: dict[str, list[str]] = {
    NotificationState.DELIVERED: [NotificationState.SENDING, NotificationState.SENT],
    NotificationState.BOUNCED: [
        NotificationState.SENDING,
        NotificationState.SENT,
        NotificationState.DELIVERED,
    ],
}

#: Characters of a provider's description kept on the feedback row, and in the
#: timeline note (which must stay within ``MAX_MESSAGE_LENGTH``).
DESCRIPTION_LENGTH = 2000
NOTE_DESCRIPTION_LENGTH = 1000

#: Errors a report's content can cause even after cleaning (a value the
#: database refuses, a conversion that fails): such a report is logged and
#: dropped, since the provider would only send the same report again. Any other
#: error (the database is unreachable…) fails the webhook, and the provider
#: retries later.
UNRECORDABLE = (DataError, ValueError, TypeError, OverflowError)

#: anymail RejectReason values of a ``rejected`` event that condemn the address.
ADDRESS_REJECT_REASONS = {
    "invalid": SuppressionReason.BOUNCED,
    "bounced": SuppressionReason.BOUNCED,
    "timed_out": SuppressionReason.BOUNCED,
    "spam": SuppressionReason.COMPLAINED,
}


@dataclass
class FeedbackResult:
    """What :func:`record_delivery_feedback` did with one report."""

    feedback: DeliveryFeedback | None
    #: False when the same provider event was recorded before (nothing done).
    recorded: bool = True
    #: The row's new state if this report moved it, else ''.
    new_state: str = ""
    suppressed: bool = False
    unsubscribed: bool = False
    fallback: Notification | None = None
    timeline_event: OrderEvent | None = None


# The anymail receiver --------------------------------------------------------------


def connect_receivers() -> None:
    """Connect :func:`handle_tracking_event` to anymail's ``tracking`` signal.

    Called from ``AppConfig.ready()``; connecting twice is harmless.
    """
    from anymail.signals import tracking

    tracking.connect(
        handle_tracking_event,
        weak=False,
        dispatch_uid="order_updates.notifications.feedback.handle_tracking_event",
    )


def handle_tracking_event(sender, event, esp_name, **kwargs) -> FeedbackResult | None:
    """Receiver of ``anymail.signals.tracking``: record one ESP event.

    Events about messages order_updates did not send are ignored (None). So is,
    after logging it, a report whose content cannot be recorded even once
    cleaned (see :data:`UNRECORDABLE`): raising would make anymail answer 500
    and the ESP send the same report again and again.
    """
    try:
        # A savepoint: a refused statement must not break a request-wide
        # transaction (ATOMIC_REQUESTS) that anymail's view may run in.
        with transaction.atomic():
            return _handle_tracking_event(event, esp_name)
    except UNRECORDABLE:
        logger.exception(
            "A %s tracking event could not be recorded and was dropped: %r",
            esp_name,
            _event_summary(event),
        )
        return None


def _handle_tracking_event(event: Any, esp_name: str) -> FeedbackResult | None:
    notification = find_notification(
        message_id=getattr(event, "message_id", None),
        metadata=getattr(event, "metadata", None),
        recipient=getattr(event, "recipient", None),
    )
    if notification is None:
        return None
    event_type = validation.clean_text(getattr(event, "event_type", None), 50)
    event_type = event_type or "unknown"
    event_id = getattr(event, "event_id", None)
    if event_id is None or event_id == "":
        event_id = _stable_event_id(
            esp_name, event.message_id, event_type, event.timestamp
        )
    return record_delivery_feedback(
        notification,
        provider=esp_name,
        event_id=event_id,
        event_type=event_type,
        occurred_at=getattr(event, "timestamp", None),
        description=getattr(event, "description", None)
        or getattr(event, "mta_response", None)
        or "",
        reject_reason=getattr(event, "reject_reason", None) or "",
        raw=getattr(event, "esp_event", None),
    )


def _event_summary(event: Any) -> dict[str, str]:
    """What the log says about a dropped event (short, whatever its values)."""
    summary = {}
    for name in ("event_type", "event_id", "message_id", "recipient", "timestamp"):
        try:
            value = getattr(event, name, None)
        except Exception:  # the log line must not fail too
            value = "<unreadable>"
        summary[name] = validation.clean_text(value, 200)
    return summary


def find_notification(
    *,
    message_id: str | None = None,
    metadata: dict | None = None,
    recipient: str | None = None,
) -> Notification | None:
    """The notification a provider report is about: by message id, then metadata.

    Values that cannot be an id order_updates stored (not text, NUL characters,
    too long) match nothing, rather than making the database refuse the query.
    """
    message_id = _stored_text(message_id, _PROVIDER_MESSAGE_ID_LENGTH)
    if message_id:
        candidates = list(
            Notification.objects.filter(provider_message_id=message_id).order_by("-pk")[
                :10
            ]
        )
        if len(candidates) > 1 and recipient:
            # One message id for several recipients (some ESPs): pick by address.
            matching = [
                row
                for row in candidates
                if row.recipient.lower() == str(recipient).lower()
            ]
            candidates = matching or candidates
        if candidates:
            return candidates[0]
    value = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    pk = _notification_pk(value)
    if pk is not None:
        return Notification.objects.filter(pk=pk).first()
    return None


_PROVIDER_MESSAGE_ID_LENGTH = Notification._meta.get_field(
    "provider_message_id"
).max_length
_DIGITS = re.compile(r"[0-9]{1,19}")


def _stored_text(value: Any, max_length: int | None) -> str:
    """``value`` as text that can equal a stored value, else ``""``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value)
    if "\x00" in text or (max_length is not None and len(text) > max_length):
        return ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return text


def _notification_pk(value: Any) -> int | None:
    """A notification's primary key from metadata (text or a number), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and 0 < value < 2**63:
        return value
    return None


# The provider-neutral core ---------------------------------------------------------


def record_delivery_feedback(
    notification: Notification,
    *,
    provider: str,
    event_id: str,
    event_type: str,
    occurred_at: datetime.datetime | None = None,
    description: str = "",
    reject_reason: str = "",
    raw: Any = None,
) -> FeedbackResult:
    """Record a provider's report about ``notification`` and act on it, once.

    ``event_type`` is one of anymail's ``EventType`` values ("delivered",
    "bounced", "complained"…). A second report with the same ``provider`` and
    ``event_id`` does nothing. Runs in one transaction; the delivered/failed
    signals and the fallback's delivery task run after it commits.

    Values come from outside and are made storable rather than refused: text
    loses NUL characters, gets U+FFFD for lone surrogates and is cut to its
    column (``description`` to :data:`DESCRIPTION_LENGTH`; an ``event_id``
    longer than its column is replaced by its SHA-256, so distinct ids stay
    distinct); a time that is no datetime or out of range becomes now; ``raw``
    becomes plain JSON (:func:`~order_updates.core.validation.plain_json`).
    """
    provider = validation.clean_text(provider, 50)
    event_id = _event_id(event_id)
    event_type = validation.clean_text(event_type, 50)
    occurred_at = validation.clean_moment(occurred_at) or timezone.now()
    description = validation.clean_text(description, DESCRIPTION_LENGTH)
    reject_reason = validation.clean_text(reject_reason, 50)
    with transaction.atomic():
        try:
            with transaction.atomic():
                feedback = DeliveryFeedback.objects.create(
                    notification=notification,
                    provider=provider,
                    event_id=event_id,
                    event_type=event_type,
                    occurred_at=occurred_at,
                    description=description,
                    raw=_plain_json(raw),
                )
        except IntegrityError:
            return FeedbackResult(feedback=None, recorded=False)
        result = FeedbackResult(feedback=feedback)
        if event_type in DELIVERY_PROOF:
            _delivered(notification, feedback, result)
        elif event_type in NON_DELIVERY:
            _bounced(notification, feedback, reject_reason, result)
        elif event_type == COMPLAINED:
            _complained(notification, feedback, result)
        elif event_type == UNSUBSCRIBED:
            _unsubscribed(notification, feedback, result)
        if event_type == REJECTED and reject_reason == "unsubscribed":
            _unsubscribed(notification, feedback, result)
    return result


def _delivered(
    notification: Notification, feedback: DeliveryFeedback, result: FeedbackResult
) -> None:
    if _move(
        notification,
        NotificationState.DELIVERED,
        delivered_at=feedback.occurred_at,
    ):
        result.new_state = NotificationState.DELIVERED
        transaction.on_commit(
            lambda: send_signal(
                signals.notification_delivered, Notification, notification=notification
            ),
            robust=True,
        )


def _bounced(
    notification: Notification,
    feedback: DeliveryFeedback,
    reject_reason: str,
    result: FeedbackResult,
) -> None:
    error = feedback.description or feedback.event_type
    moved = _move(notification, NotificationState.BOUNCED, last_error=error[:2000])
    if moved:
        result.new_state = NotificationState.BOUNCED
    # "failed" is the provider's own trouble, and a policy rejection ("blocked")
    # says nothing about the address: only real bounces condemn it.
    reason = None
    if feedback.event_type == BOUNCED:
        reason = SuppressionReason.BOUNCED
    elif feedback.event_type == REJECTED:
        reason = ADDRESS_REJECT_REASONS.get(reject_reason)
    channel = _channel(notification)
    if reason is not None:
        _row, result.suppressed = suppress(
            channel, notification.recipient, reason, notification
        )
    if not (moved or result.suppressed):
        return
    if moved:
        result.fallback = _queue_fallback(notification)
        # The bounce's webhooks commit with it; the signal follows the commit.
        bounced = [(notification, error)]
        failures.consume_failures(bounced)
        transaction.on_commit(lambda: failures.announce_failures(bounced), robust=True)
    note = gettext("%(channel)s to %(recipient)s bounced: %(description)s") % {
        "channel": capfirst(channel.label),
        "recipient": notification.recipient,
        "description": error[:NOTE_DESCRIPTION_LENGTH],
    }
    if result.suppressed:
        note += " " + gettext("No more messages will be sent to this address.")
    if result.fallback is not None:
        note += " " + gettext(
            "The message was queued by %(channel)s to %(recipient)s instead."
        ) % {
            "channel": _channel(result.fallback).label,
            "recipient": result.fallback.recipient,
        }
    result.timeline_event = _timeline_event(
        notification, feedback, note, fallback=result.fallback
    )


def _complained(
    notification: Notification, feedback: DeliveryFeedback, result: FeedbackResult
) -> None:
    channel = _channel(notification)
    _row, result.suppressed = suppress(
        channel, notification.recipient, SuppressionReason.COMPLAINED, notification
    )
    note = gettext(
        "%(recipient)s reported the %(channel)s as spam. No more messages will be "
        "sent to this address."
    ) % {
        "recipient": notification.recipient,
        "channel": channel.label,
    }
    result.timeline_event = _timeline_event(notification, feedback, note)


def _unsubscribed(
    notification: Notification, feedback: DeliveryFeedback, result: FeedbackResult
) -> None:
    if result.unsubscribed:
        return
    unsubscribe(preference_for_order(notification.order), notification.channel)
    result.unsubscribed = True
    note = gettext(
        "%(recipient)s unsubscribed from %(channel)s updates at %(provider)s."
    ) % {
        "recipient": notification.recipient,
        "channel": _channel(notification).label,
        "provider": feedback.provider,
    }
    result.timeline_event = _timeline_event(notification, feedback, note)


# Steps -----------------------------------------------------------------------------


def _move(notification: Notification, state: str, **fields: Any) -> bool:
    """Move the row to ``state`` if its current state allows it (one UPDATE)."""
    now = timezone.now()
    moved = Notification.objects.filter(
        pk=notification.pk, state__in=ALLOWED_FROM[state]
    ).update(state=state, updated_at=now, **fields)
    if moved:
        notification.state = state
        notification.updated_at = now
        for name, value in fields.items():
            setattr(notification, name, value)
    return bool(moved)


def _channel(notification: Notification) -> BaseChannel:
    """The notification's configured channel.

    A channel removed from settings since still gets its address suppressed,
    compared as the base channel compares addresses.
    """
    try:
        return get_channel(notification.channel)
    except ImproperlyConfigured:
        return BaseChannel(notification.channel)


def _queue_fallback(bounced: Notification) -> Notification | None:
    """Queue the bounced message on a fallback channel, when the customer allows it.

    The candidates are the configured channels other than the bounced one that
    have a ``fallback_priority`` (SMS), lowest first. The first through which the
    customer can be reached is used: it gives a recipient (its own normalised
    address, so the fallback is the very row a normal message would have been),
    the customer wants the type's category there (consent included), the
    adapter's ``should_notify()`` agrees, and the address is not suppressed. If
    the customer already has a message about the same event on that channel,
    nothing is added.
    """
    ranked = sorted(
        (channel.fallback_priority, index, channel)
        for index, (name, channel) in enumerate(get_channels().items())
        if name != bounced.channel and channel.fallback_priority is not None
    )
    if not ranked:
        return None
    order = bounced.order
    adapter = get_adapter()
    preference = preference_for_order(order)
    notification_type = get_notification_types().get(bounced.type)
    category = notification_type.category if notification_type else "order"
    for _priority, _index, channel in ranked:
        if not wants(preference, category, channel):
            continue
        if notification_type is not None and not adapter.should_notify(
            order, notification_type, channel
        ):
            continue
        recipient = next(
            (
                address
                for address in channel.recipients(order, adapter, preference)
                if not is_suppressed(channel, address)
            ),
            None,
        )
        if recipient is not None:
            return _write_fallback(bounced, channel, recipient, preference)
    return None


def _write_fallback(
    bounced: Notification,
    channel: BaseChannel,
    recipient: str,
    preference: NotificationPreference,
) -> Notification | None:
    if Notification.objects.filter(
        event_id=bounced.event_id, channel=channel.name
    ).exists():
        return None  # the customer already hears about this event there
    dedupe_key = Notification.make_dedupe_key(bounced.event_id, channel.name, recipient)
    now = timezone.now()
    due = now
    if channel.quiet_hours:
        due = quiet_hours.postpone(now, preference.timezone)
    try:
        with transaction.atomic():
            fallback = Notification.objects.create(
                order_id=bounced.order_id,
                event_id=bounced.event_id,
                type=bounced.type,
                channel=channel.name,
                recipient=recipient,
                language=bounced.language,
                next_attempt_at=due,
                created_at=now,
                dedupe_key=dedupe_key,
                fallback_for=bounced,
            )
    except IntegrityError:  # queued concurrently
        return None
    # Published after commit (a due time beyond the countdown limit is left to
    # the sweeper).
    queue.publish_after_commit([(fallback.pk, due)])
    return fallback


def _timeline_event(
    notification: Notification,
    feedback: DeliveryFeedback,
    note: str,
    *,
    fallback: Notification | None = None,
) -> OrderEvent:
    """Write a staff-only ``delivery_feedback`` event on the notification's order."""
    data = {
        "notification": notification.pk,
        "feedback": feedback.pk,
        "event_type": feedback.event_type,
        "channel": notification.channel,
        "recipient": notification.recipient,
    }
    if fallback is not None:
        data["fallback"] = fallback.pk
    return add_delivery_feedback(
        notification.order,
        note[: validation.max_message_length()],
        actor="provider:%s" % feedback.provider.lower(),
        data=data,
    )


# Helpers ---------------------------------------------------------------------------


def _stable_event_id(
    esp_name: str,
    message_id: str | None,
    event_type: str,
    timestamp: datetime.datetime | None,
) -> str:
    """An id for events the ESP gives none: the same report gets the same id."""
    parts = [
        validation.clean_text(part, 1000)
        for part in (
            esp_name,
            message_id,
            event_type,
            timestamp.isoformat()
            if isinstance(timestamp, datetime.datetime)
            else timestamp,
        )
    ]
    return _sha256("\x1f".join(parts))


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _event_id(value: Any) -> str:
    """The provider's event id as storable text; a long one becomes its hash."""
    text = validation.clean_text(value, 100_000)
    max_length = DeliveryFeedback._meta.get_field("event_id").max_length or 255
    return text if len(text) <= max_length else _sha256(text)


#: The most of a provider's raw event kept, in bytes of JSON; a larger one is
#: kept as the start of its JSON text.
RAW_LENGTH = validation.MAX_DATA_SIZE


def _plain_json(raw: Any) -> Any:
    """The ESP's raw event as JSON that any database stores (bounded)."""
    if raw is None:
        return {}
    plain = validation.plain_json(raw)
    encoded = json.dumps(plain, cls=DjangoJSONEncoder, ensure_ascii=False)
    if len(encoded.encode()) <= RAW_LENGTH:
        return plain
    return {"truncated": encoded[: RAW_LENGTH // 4]}
