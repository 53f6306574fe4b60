"""Timeline entries that change no status: notes, delivery issues, feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from order_updates import signals
from order_updates.core import validation
from order_updates.core.events import (
    Actor,
    actor_fields,
    build_event,
    in_transaction,
    lock_state,
    send_after_commit,
    start_event,
    write_events,
)
from order_updates.models import EventKind, OrderEvent

#: What :func:`report_delivery_issue` accepts, and the event kind each writes.
DELIVERY_ISSUES = {
    "delayed": EventKind.DELIVERY_DELAYED,
    "exception": EventKind.DELIVERY_EXCEPTION,
}


def add_note(
    order: models.Model,
    message: str,
    *,
    public: bool = True,
    actor: Actor = None,
    notify: bool = True,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Add a note to the timeline: for the customer if ``public``, else staff only.

    Bad arguments (an empty ``message`` too) raise
    :class:`~order_updates.exceptions.InvalidInput` before anything is written.
    """
    message = validation.text(message, "message", required=True)
    order, public, actor, notify, data, at = validation.arguments(
        order=order, public=public, actor=actor, notify=notify, data=data, at=at
    )

    def write() -> OrderEvent:
        event = record(
            order,
            kind=EventKind.NOTE,
            actor=actor,
            message=message if public else "",
            note="" if public else message,
            notify=notify and public,
            data=data,
            at=at,
        )
        send_after_commit(
            signals.order_note_added, order, event=event, public=public, actor=actor
        )
        return event

    return in_transaction(write)


def report_delivery_issue(
    order: models.Model,
    issue: str,
    *,
    message: str = "",
    note: str = "",
    actor: Actor = None,
    notify: bool = True,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Record that delivery is late (``"delayed"``) or went wrong (``"exception"``:
    a failed attempt, an address problem, a damaged parcel) without changing the
    status; the customer hears about it unless ``notify=False``. Bad arguments
    raise :class:`~order_updates.exceptions.InvalidInput` before anything is
    written.
    """
    issue = validation.choice(issue, "issue", DELIVERY_ISSUES)
    order, message, note, actor, notify, data, at = validation.arguments(
        order=order,
        message=message,
        note=note,
        actor=actor,
        notify=notify,
        data=data,
        at=at,
    )

    def write() -> OrderEvent:
        event = record(
            order,
            kind=DELIVERY_ISSUES[issue],
            actor=actor,
            message=message,
            note=note,
            notify=notify,
            data=data,
            at=at,
        )
        send_after_commit(
            signals.delivery_issue_reported,
            order,
            event=event,
            issue=issue,
            actor=actor,
            notify=notify,
        )
        return event

    return in_transaction(write)


def add_delivery_feedback(
    order: models.Model,
    note: str,
    *,
    actor: Actor = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Put a provider's report about a notification (a bounce, a complaint, an SMS
    sent instead) on the order's timeline, for staff only; it never notifies.

    Bad arguments (an empty ``note`` too) raise
    :class:`~order_updates.exceptions.InvalidInput` before anything is written.
    """
    note = validation.text(note, "note", required=True)
    order, actor, data, at = validation.arguments(
        order=order, actor=actor, data=data, at=at
    )
    return record(
        order,
        kind=EventKind.DELIVERY_FEEDBACK,
        actor=actor,
        note=note,
        notify=False,
        data=data,
        at=at,
    )


def record(
    order: models.Model,
    *,
    kind: str,
    actor: Actor,
    at: datetime | None,
    **fields: Any,
) -> OrderEvent:
    """Append one event that changes no status (and the tracking-started event
    of an untracked order before it); return it.
    """
    at = at or timezone.now()

    def write() -> OrderEvent:
        state = lock_state(order, at=at)
        started = start_event(order, state, actor=actor, at=at)
        event = build_event(
            state, kind=kind, actor=actor_fields(actor), at=at, **fields
        )
        write_events([(order, [started, event] if started else [event])])
        state.save(update_fields=["last_sequence"])
        return event

    return in_transaction(write)
