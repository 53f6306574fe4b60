"""What a change would send, before it is made: a dry run of the service.

The change runs for real (the same service call the confirmation makes) inside a
transaction that is always rolled back. So the preview is decided by the code
that decides for real: which notification types are on, the customer's
preferences and consents, the adapter's ``should_notify()``, suppressed
addresses, each channel's recipients and quiet hours; and each message is
rendered by the renderer the worker uses, from the state the change leaves.
Nothing of it is kept: no event, no outbox row, no task, no signal (Django
discards on-commit callbacks of a rolled-back transaction).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from order_updates.exceptions import OrderUpdatesConfigurationError, TemplateError
from order_updates.models import Notification, NotificationState, OrderState
from order_updates.notifications.channels import get_channels
from order_updates.notifications.templating import render_notification
from order_updates.notifications.types import get_notification_types


@dataclass
class PlannedMessage:
    """One message the change would queue, rendered as the customer gets it."""

    channel: str
    channel_label: str
    type_label: str
    recipient: str
    #: The outbox state it would start in (pending, suppressed, failed…).
    state: str
    state_label: str
    #: Why it would not be sent (a suppressed address…), or ''.
    reason: str
    #: When it would go out, if later than now (coalescing, quiet hours).
    due: datetime.datetime | None
    parts: dict[str, str] = field(default_factory=dict)
    #: Why it could not be rendered ('' if it was).
    error: str = ""


class _RollBack(Exception):
    """Leaves the dry run's transaction."""


def preview_change(
    order: models.Model, change: Callable[[], Any]
) -> list[PlannedMessage]:
    """The messages ``change()`` (a service call about ``order``) would queue.

    Errors of the change itself (an invalid transition, bad input) propagate,
    as they would on confirmation.
    """
    planned: list[PlannedMessage] = []
    try:
        with transaction.atomic():
            before = last_sequence(order)
            change()
            rows = (
                Notification.objects.filter(
                    order_id=order.pk, event__sequence__gt=before
                )
                .select_related("event")
                .order_by("pk")
            )
            planned = [_planned(row, order) for row in rows]
            raise _RollBack
    except _RollBack:
        pass
    return planned


def last_sequence(order: models.Model) -> int:
    """The sequence number of the order's latest event (0 before the first)."""
    return (
        OrderState.objects.filter(order_id=order.pk)
        .values_list("last_sequence", flat=True)
        .first()
    ) or 0


def queued_after(order: models.Model, sequence: int) -> bool:
    """Whether events after ``sequence`` queued a message that goes out (not one
    suppressed or skipped at once).
    """
    return (
        Notification.objects.filter(order_id=order.pk, event__sequence__gt=sequence)
        .exclude(state__in=[NotificationState.SUPPRESSED, NotificationState.SKIPPED])
        .exists()
    )


def _planned(row: Notification, order: models.Model) -> PlannedMessage:
    channels = get_channels()
    channel = channels[row.channel]
    notification_type = get_notification_types().get(row.type)
    now = timezone.now()
    message = PlannedMessage(
        channel=row.channel,
        channel_label=str(channel.label),
        type_label=str(notification_type.label if notification_type else row.type),
        recipient=row.recipient,
        state=row.state,
        state_label=str(row.get_state_display()),
        reason=row.reason or row.last_error,
        due=row.next_attempt_at
        if row.next_attempt_at
        and row.next_attempt_at > now + datetime.timedelta(seconds=5)
        else None,
    )
    if row.state in (NotificationState.PENDING, NotificationState.SUPPRESSED):
        try:
            message.parts = render_notification(row, order, channel)
        except (TemplateError, OrderUpdatesConfigurationError) as exc:
            message.error = gettext("This message could not be rendered: %s") % exc
    return message
